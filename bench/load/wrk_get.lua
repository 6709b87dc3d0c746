-- wrk script for a plain GET (the trivial endpoint): only the JSON summary of done().
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %.3f, "rps": %.1f, "non2xx": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_ms": %.2f, "p95_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f}\n',
    summary.requests, secs, summary.requests / secs, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
