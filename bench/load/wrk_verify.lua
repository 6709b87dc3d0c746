-- wrk script: POST /v1/verifications with the seeded certificate texts, round robin.
-- env: GR_TEXTS (file, one certificate text per line), GR_KEY (officer API key),
--      GR_PHOTO ("true"/"false": include_photo; default: the API's default).
-- Prints one JSON line (prefix "WRKJSON ") with throughput and latency percentiles.
local reqs = {}
local n = 0
local i = 0

function init(args)
  local key = os.getenv("GR_KEY")
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. key
  local photo = os.getenv("GR_PHOTO")
  local extra = ""
  if photo == "true" or photo == "false" then
    extra = ', "include_photo": ' .. photo
  end
  for line in io.lines(os.getenv("GR_TEXTS")) do
    if #line > 0 then
      local body = '{"text": "' .. line .. '", "location": "bench gate"' .. extra .. '}'
      n = n + 1
      reqs[n] = wrk.format("POST", "/v1/verifications", headers, body)
    end
  end
  i = math.random(n) - 1
end

function request()
  i = (i % n) + 1
  return reqs[i]
end

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
