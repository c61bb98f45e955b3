//! The `Date` header (RFC 9110 §6.6.1), formatted once a second per loop.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const DATE_LEN: usize = 29;

/// The current date, refreshed at most once a second.
///
/// Each loop owns one, so no thread ever waits on another to read the time.
pub(crate) struct DateCache {
    text: [u8; DATE_LEN],
    next_refresh: Instant,
}

impl DateCache {
    pub(crate) fn new() -> DateCache {
        let mut cache = DateCache {
            text: [0; DATE_LEN],
            next_refresh: Instant::now(),
        };
        cache.refresh(Instant::now());
        cache
    }

    /// Re-formats the date if a second has passed since the last time.
    #[inline]
    pub(crate) fn update(&mut self, now: Instant) {
        if now >= self.next_refresh {
            self.refresh(now);
        }
    }

    fn refresh(&mut self, now: Instant) {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.text = format_http_date(since_epoch.as_secs());
        // Refresh on the next whole second of the wall clock, so the header never lags by ~1 s.
        let into_second = Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
        self.next_refresh = now + (Duration::from_secs(1) - into_second);
    }

    pub(crate) fn as_bytes(&self) -> &[u8; DATE_LEN] {
        &self.text
    }
}

/// Formats seconds since the Unix epoch as an IMF-fixdate.
pub(crate) fn format_http_date(secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day as u64);
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    let year = year as u64;
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], rem / 3600);
    two_digits(&mut out[20..22], rem % 3600 / 60);
    two_digits(&mut out[23..25], rem % 60);
    out
}

/// Parses an IMF-fixdate (the only form a server must generate; RFC 9110 §5.6.7) into
/// seconds since the Unix epoch.
pub(crate) fn parse_http_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != DATE_LEN || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |s: &[u8]| -> Option<u64> {
        s.iter().try_fold(0u64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
        })
    };
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let day = num(&b[5..7])?;
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u64 + 1;
    let year = num(&b[12..16])?;
    let (h, m, s) = (num(&b[17..19])?, num(&b[20..22])?, num(&b[23..25])?);
    if b[16] != b' ' || b[19] != b':' || b[22] != b':' || year < 1970 || h > 23 || m > 59 || s > 60
    {
        return None;
    }
    let days = days_from_civil(year as i64, month as u32, day as u32);
    Some(days as u64 * 86_400 + h * 3600 + m * 60 + s)
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(&format_http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_http_date(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            &format_http_date(951_782_400),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            &format_http_date(1_795_564_800),
            b"Wed, 25 Nov 2026 00:00:00 GMT"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for secs in [0, 784_111_777, 951_782_400, 1_795_564_800, 4_102_444_799] {
            let text = format_http_date(secs);
            assert_eq!(
                parse_http_date(std::str::from_utf8(&text).unwrap()),
                Some(secs)
            );
        }
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
    }

    #[test]
    fn cache_refreshes_only_when_stale() {
        let mut cache = DateCache::new();
        let now = Instant::now();
        cache.text = *b"Xxx, 00 Xxx 0000 00:00:00 GMT";
        cache.next_refresh = now + Duration::from_secs(1);
        cache.update(now);
        assert_eq!(cache.as_bytes(), b"Xxx, 00 Xxx 0000 00:00:00 GMT");
        cache.update(now + Duration::from_secs(1));
        assert_ne!(cache.as_bytes(), b"Xxx, 00 Xxx 0000 00:00:00 GMT");
        assert!(parse_http_date(std::str::from_utf8(cache.as_bytes()).unwrap()).is_some());
    }
}
