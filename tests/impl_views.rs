//! Views that return `impl IntoResponse` (or `impl Responder`) register with `+ use<>`,
//! the edition 2024 idiom; closures need no annotation.

use carafe::{App, IntoResponse, Request, Responder, Response};

fn index(_: &Request) -> impl IntoResponse + use<> {
    "hello"
}

fn maybe(req: &Request) -> impl Responder + use<> {
    let id: u32 = req.param("id")?;
    Ok::<_, carafe::HttpError>(Response::text(format!("item {id}")))
}

#[test]
fn impl_trait_views_register() {
    let mut app = App::new();
    app.get("/", index);
    app.get("/items/<int:id>", maybe);
    app.get("/closure", |req| format!("closure at {}", req.path()));
    let client = app.test_client();
    assert_eq!(client.get("/").send().text(), "hello");
    assert_eq!(client.get("/items/4").send().text(), "item 4");
    assert_eq!(client.get("/closure").send().text(), "closure at /closure");
}
