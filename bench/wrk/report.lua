-- wrk script: `wrk ... -s bench/wrk/report.lua URL -- METHOD [BODY_FILE|-] [DELAY_MS]`
-- Sends the request over and over (a path with `player_id=player-1` gets a new player per
-- request); DELAY_MS paces each connection; prints one JSON line of totals at the end.

local delay_ms = 0
local vary = false
local prefix = ""
local counter = 0

function init(args)
  wrk.method = args[1] or "GET"
  if args[2] and args[2] ~= "-" then
    local file = assert(io.open(args[2], "rb"))
    wrk.body = file:read("*a")
    file:close()
    wrk.headers["Content-Type"] = "application/json"
  end
  delay_ms = tonumber(args[3] or "0")
  vary = string.find(wrk.path, "player_id=player%-1", 1) ~= nil
  prefix = tostring(math.random(1, 1000000000))
end

function request()
  if not vary then
    return wrk.format()
  end
  counter = counter + 1
  local player = "player_id=player-" .. prefix .. "-" .. counter
  return wrk.format(nil, (string.gsub(wrk.path, "player_id=player%-1", player)))
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"wrk": 1, "requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
      .. '"timeouts": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
