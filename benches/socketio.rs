//! The Socket.IO codec: decoding what clients post, and encoding an emit once for a room.

use std::hint::black_box;

use bytes::BytesMut;
use carafe::bench_api::socketio::{Event, Queue, decode_body};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A chat message, with an ack id, the way socket.io-client posts two of them.
const CHAT: &[u8] = br#"42/chat,17["message",{"room":"lobby","user":"ana","text":"hello there, how is everyone doing today?"}]"#;
/// A binary upload: the text packet and its base64 attachment.
const UPLOAD: &[u8] = b"451-[\"upload\",{\"name\":\"a.png\"},{\"_placeholder\":true,\"num\":0}]\x1ebiVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio_decode");
    let two_chats = [CHAT, b"\x1e", CHAT].concat();
    for (name, body, packets) in [
        ("two_chats", &two_chats[..], 2),
        ("binary_upload", UPLOAD, 1),
    ] {
        assert_eq!(decode_body(body), Some(packets));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| decode_body(black_box(body))));
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio_encode");
    let args = r#"["message",{"room":"lobby","user":"ana","text":"hello there, how is everyone doing today?"}]"#;
    let chat = Event::new("/chat", args, None);
    let upload = Event::new("/", r#"["upload",{"name":"a.png"}]"#, Some(&[0x89; 64]));
    group.bench_function("event", |b| b.iter(|| black_box(&chat).encode()));
    group.bench_function("binary_event", |b| b.iter(|| black_box(&upload).encode()));
    // One emit to a room of 1000 sockets: encode once, queue the shared frames on each.
    let mut queues = vec![Queue::default(); 1000];
    group.throughput(Throughput::Elements(1000));
    group.bench_function("room_of_1000", |b| {
        b.iter(|| black_box(&chat).encode().fan_out(&mut queues))
    });
    group.throughput(Throughput::Elements(1));
    let frames = upload.encode();
    let mut out = BytesMut::with_capacity(4096);
    group.bench_function("polling_body_binary", |b| {
        b.iter(|| {
            out.clear();
            frames.polling_body(&mut out);
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
