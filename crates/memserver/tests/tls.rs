//! The S3 backend over HTTPS on both data paths: a TLS front (tokio-rustls, a self-signed
//! certificate for `localhost`) before the memory server, trusted through
//! `S3Config::ca_bundle` as `AWS_CA_BUNDLE` would set it; without it, refused.

use std::sync::Arc;

use bytes::Bytes;
use s3dlio_backend_s3::{DataPath, S3Config, S3Store};
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt};
use s3dlio_memserver::{Options, Server};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const KEY: &str = "tls-test-key";
const SECRET: &str = "tls-test-secret";

/// Terminates TLS on a free port and relays each connection to `backend`; returns the
/// port and the certificate's PEM.
async fn tls_front(backend: std::net::SocketAddr) -> (u16, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let tls =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to relay.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut plain = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, cert.cert.pem())
}

#[tokio::test]
async fn both_data_paths_use_tls_trusting_the_bundle_and_refuse_an_untrusted_server() {
    let server = Server::start(
        "127.0.0.1:0",
        Options {
            credentials: Some((KEY.into(), SECRET.into())),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let (port, pem) = tls_front(server.addr()).await;
    let config = |path, bundle: Option<&str>| S3Config {
        ca_bundle: bundle.map(|p| p.as_bytes().to_vec()),
        ..S3Config::default()
            .with_endpoint(format!("https://localhost:{port}"))
            .with_region("us-east-1")
            .with_credentials(KEY, SECRET)
            .with_data_path(path)
    };
    let data: Bytes = (0..300_000u32)
        .map(|i| (i % 249) as u8)
        .collect::<Vec<_>>()
        .into();
    for path in [DataPath::Direct, DataPath::Sdk] {
        let store = S3Store::new(config(path, Some(&pem)));
        store.create_container("s3://tls").await.unwrap();
        let uri = format!("s3://tls/{path:?}");
        store.put(&uri, data.clone()).await.unwrap();
        assert!(store.get(&uri).await.unwrap() == data, "{path:?}");
        let part = store.get_range(&uri, 1000, Some(5000)).await.unwrap();
        assert!(part == data.slice(1000..6000), "{path:?}");

        let untrusted = S3Store::new(config(path, None));
        let e = untrusted.get(&uri).await.unwrap_err();
        assert!(e.to_string().contains(&uri), "{path:?}: {e}");
        // Both paths report the refused certificate as a failed connection (its cause
        // is in the source chain).
        assert!(matches!(e, Error::Unreachable { .. }), "{path:?}: {e:?}");
        assert!(format!("{e:?}").contains("UnknownIssuer"), "{path:?}: {e:?}");
    }
}
