//! `benches/load.sh --chart` draws the committed `benches/results.svg` from the committed
//! figures, one bar per server and scenario in each panel.

use std::path::Path;
use std::process::Command;

#[test]
fn the_committed_chart_is_drawn_from_the_committed_figures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("carafe-chart-{}.svg", std::process::id()));
    let status = Command::new("bash")
        .arg(root.join("benches/load.sh"))
        .arg("--chart")
        .arg(&out)
        .arg(root.join("benches/results-2026-11-25.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let drawn = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let committed = std::fs::read_to_string(root.join("benches/results.svg")).unwrap();
    assert_eq!(drawn, committed, "redraw benches/results.svg");

    // 6 servers × 4 scenarios × 2 panels, and the figures beside their bars.
    assert_eq!(drawn.matches("<rect x=").count(), 48);
    for figure in ["6.51", "0.62", "23.39", "1 375 819", "58 144"] {
        assert!(drawn.contains(&format!(">{figure}</text>")), "{figure}");
    }
    assert!(drawn.contains("2026-11-25"));
}
