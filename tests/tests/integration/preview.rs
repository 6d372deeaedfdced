//! Previews against the real engine: an image comes back as the same bytes in a data URL, JSON
//! laid out, CSV in rows, and what is too big or can't be shown is said so, not fetched whole.

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use spacedock::core::preview::{self, Preview, TEXT_LIMIT};
use spacedock_tests::{new_space, owner_client, sandbox};

async fn put_typed(client: &aws_sdk_s3::Client, space: &str, key: &str, body: Vec<u8>, kind: &str) {
    client
        .put_object()
        .bucket(space)
        .key(key)
        .content_type(kind)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put");
}

#[tokio::test]
async fn previews_show_images_pdfs_text_json_and_csv_and_say_what_they_cannot() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "preview").await;
    // A PNG's signature and a few bytes: what matters is that they come back unchanged.
    let png: Vec<u8> = [
        0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13, 0xff, 0x00,
    ]
    .to_vec();
    put_typed(&client, &space, "pics/dot.png", png.clone(), "image/png").await;
    put_typed(
        &client,
        &space,
        "data.json",
        r#"{"a":[1,2],"b":"ü"}"#.as_bytes().to_vec(),
        "application/json",
    )
    .await;
    put_typed(
        &client,
        &space,
        "t.csv",
        b"x,y\n\"1,5\",2\n".to_vec(),
        "text/csv",
    )
    .await;
    put_typed(
        &client,
        &space,
        "notes.txt",
        "ünï text".as_bytes().to_vec(),
        "text/plain",
    )
    .await;
    put_typed(&client, &space, "empty.txt", Vec::new(), "text/plain").await;
    put_typed(
        &client,
        &space,
        "big.log",
        vec![b'a'; TEXT_LIMIT as usize + 1],
        "text/plain",
    )
    .await;
    put_typed(
        &client,
        &space,
        "doc.pdf",
        b"%PDF-1.4".to_vec(),
        "application/pdf",
    )
    .await;
    put_typed(
        &client,
        &space,
        "backup.zip",
        b"PK\x03\x04".to_vec(),
        "application/zip",
    )
    .await;

    let show = |key: &'static str| {
        let (client, space) = (client.clone(), space.clone());
        async move {
            preview::preview(&client, url, &space, key)
                .await
                .expect(key)
        }
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    assert_eq!(
        show("pics/dot.png").await,
        Preview::Image {
            data_url: format!("data:image/png;base64,{b64}")
        }
    );
    assert_eq!(
        show("data.json").await,
        Preview::Text {
            text: "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"ü\"\n}".into()
        }
    );
    assert_eq!(
        show("t.csv").await,
        Preview::Csv {
            rows: vec![vec!["x".into(), "y".into()], vec!["1,5".into(), "2".into()]],
            more: false
        }
    );
    assert_eq!(
        show("notes.txt").await,
        Preview::Text {
            text: "ünï text".into()
        }
    );
    assert_eq!(
        show("empty.txt").await,
        Preview::Text {
            text: String::new()
        }
    );
    assert_eq!(
        show("big.log").await,
        Preview::TooBig {
            size: TEXT_LIMIT + 1,
            limit: TEXT_LIMIT
        }
    );
    // A PDF as a data URL of its bytes, for WebKit's own viewer.
    let Preview::Pdf { data_url } = show("doc.pdf").await else {
        panic!("a PDF is previewed as one")
    };
    let data = data_url.strip_prefix("data:application/pdf;base64,");
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.expect("a PDF data URL"));
    assert_eq!(bytes.expect("base64"), b"%PDF-1.4");
    assert_eq!(
        show("backup.zip").await,
        Preview::Unsupported {
            content_type: "application/zip".into()
        }
    );
}
