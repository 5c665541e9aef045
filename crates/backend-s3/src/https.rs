//! The direct data path's connections: TCP, and rustls (aws-lc) for https trusting the
//! system roots plus `AWS_CA_BUNDLE`, as the SDK's own client does; hyper's pooled client
//! on them for the requests that send a body.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::S3Config;

pub(crate) type Connector = HttpsConnector<HttpConnector>;
pub(crate) type HttpClient = Client<Connector, Full<Bytes>>;

pub(crate) fn connector(cfg: &S3Config) -> Connector {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates leave only the bundle, as in the SDK's client.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(pem) = &cfg.ca_bundle {
        // Checked when the config was made (`read_ca_bundle`).
        roots.add_parsable_certificates(CertificateDer::pem_slice_iter(pem).flatten());
    }
    let tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("aws-lc supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(cfg.connect_timeout));
    HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}

pub(crate) fn http_client(cfg: &S3Config, connector: Connector) -> HttpClient {
    let mut b = Client::builder(TokioExecutor::new());
    if let Some(n) = cfg.pool_max_idle_per_host {
        b.pool_max_idle_per_host(n);
    }
    b.build(connector)
}
