//! Reading a service's `/metrics` in tests.

/// Scrapes `GET /metrics` at `addr` over a plain HTTP/1.1 connection and
/// returns the exposition; panics unless it answered 200 in the OpenMetrics
/// text format.
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("reach the metrics port");
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the scrape");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.expect("read the scrape");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    body.to_owned()
}

/// The value of the sample of `name` whose labels include every one of
/// `labels`, summed over the samples that match (0 when none does).
pub fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let matches = metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// Whether `exposition` has any sample of `name` with all of `labels`.
pub fn has_sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    exposition.lines().any(|line| {
        let series = line.rsplit_once(' ').map_or("", |(s, _)| s);
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        !line.starts_with('#') && metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
    })
}
