-- wrk script: rotates through pre-minted tokens (file named by XTAC_TOKENS, lines "kind path token"),
-- counts statuses and denial reasons per thread, and prints one JSON line (prefixed XTAC_RESULT) at the end.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local index = 0
statuses = {}
reasons = {}

function init(args)
  local path = os.getenv("XTAC_TOKENS")
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    local kind, target, token = line:match("^(%S+) (%S+) (%S+)$")
    if kind then
      requests[#requests + 1] = wrk.format("GET", target, { ["Authorization"] = "Bearer " .. token })
    end
  end
  file:close()
  -- Threads start at different points of the same rotation.
  index = (id * 397) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 403 and body then
    local reason = body:match('"reason":"(%a+)"') or "unparsed"
    reasons[reason] = (reasons[reason] or 0) + 1
  end
end

local function merge(into, from)
  for k, v in pairs(from or {}) do into[k] = (into[k] or 0) + v end
end

local function object(map)
  local parts = {}
  for k, v in pairs(map) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local allStatuses, allReasons = {}, {}
  for _, thread in ipairs(threads) do
    merge(allStatuses, thread:get("statuses"))
    merge(allReasons, thread:get("reasons"))
  end
  local e = summary.errors
  io.write(string.format(
    'XTAC_RESULT {"requests":%d,"duration_us":%d,"rps":%.1f,"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},"statuses":%s,"reasons":%s}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status, object(allStatuses), object(allReasons)))
end
