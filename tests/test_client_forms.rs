//! The test client sends form fields and files as a browser does: urlencoded fields, or
//! `multipart/form-data` once a file is attached.

use carafe::{App, HttpError, Request};

fn app() -> App {
    let mut app = App::new();
    app.post("/upload", |req: &Request| -> Result<String, HttpError> {
        let form = req.form()?;
        let mut out = format!(
            "type={} title={:?} tags={:?}",
            req.mimetype(),
            form.get("title"),
            form.get_all("tag").collect::<Vec<_>>()
        );
        for file in req.files()?.iter() {
            out.push_str(&format!(
                " | {}: {:?} {} {:?}",
                file.name(),
                file.filename(),
                file.content_type(),
                String::from_utf8_lossy(file.data())
            ));
        }
        Ok(out)
    });
    app
}

#[test]
fn fields_alone_are_urlencoded() {
    let app = app();
    let resp = app
        .test_client()
        .post("/upload")
        .field("title", "a & b")
        .field("tag", "x")
        .form(&[("tag", "y")])
        .send();
    assert_eq!(
        resp.text(),
        r#"type=application/x-www-form-urlencoded title=Some("a & b") tags=["x", "y"]"#
    );
}

#[test]
fn files_make_a_multipart_body_with_the_fields() {
    let app = app();
    let resp = app
        .test_client()
        .post("/upload")
        .field("title", "report")
        .file(
            "doc",
            "notes.txt",
            "text/plain",
            "hello\r\n--not a boundary",
        )
        .file(
            "photo",
            "my \"best\" café.png",
            "image/png",
            vec![0x89, b'P', b'N', b'G'],
        )
        .field("tag", "q1")
        .send();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(
        resp.text(),
        "type=multipart/form-data title=Some(\"report\") tags=[\"q1\"] \
         | doc: \"notes.txt\" text/plain \"hello\\r\\n--not a boundary\" \
         | photo: \"my \\\"best\\\" café.png\" image/png \"\u{fffd}PNG\""
    );
}
