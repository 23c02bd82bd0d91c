-- wrk script for the bench harness: counts every status that is not 200 (wrk itself only counts >= 400)
-- and prints one machine-readable line at the end, read by bench/harness.py.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non200") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect_errors":%.0f,'
      .. '"read_errors":%.0f,"write_errors":%.0f,"status_errors":%.0f,"timeouts":%.0f,"non200":%.0f,'
      .. '"p50_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    bad, latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
