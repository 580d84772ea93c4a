-- A queue at a glance: jobs per state, paused, counters, today's history, error groups, and the
-- latency (how long the next pending job has waited: since its enqueue, or its last failure).
-- KEYS: 1 pending, 2 lease, 3 scheduled, 4 retry, 5 dead, 6 completed, 7 paused, 8 stats,
--       9 jobs, 10 groups
-- ARGV: 1 queue base
-- Returns {pending, active, scheduled, retry, dead, completed, paused (0/1), processed, failed,
-- dead total, stale, latency ms, processed today, failed today, error groups}
local now = now_ms()
local base = ARGV[1]
local out = {redis.call('LLEN', KEYS[1])}
for i = 2, 6 do out[#out + 1] = redis.call('ZCARD', KEYS[i]) end
out[#out + 1] = redis.call('EXISTS', KEYS[7])
local stats = redis.call('HMGET', KEYS[8], 'processed', 'failed', 'dead', 'stale')
for i = 1, 4 do out[#out + 1] = tonumber(stats[i] or '0') or 0 end
local latency = 0
local oldest = redis.call('LINDEX', KEYS[1], -1)
if oldest then
  local since = nil
  local rec = redis.call('HGET', KEYS[9], oldest)
  if rec then since = tonumber(string.match(rec, '^[^\31]*\31([^\31]*)\31') or '') end
  local ok, fields = pcall(redis.call, 'HMGET', attempt_key(base, oldest), 'enqueued_at', 'failed_at')
  if ok then
    since = since or tonumber(fields[1] or '')
    local failed = tonumber(fields[2] or '')
    if failed and (not since or failed > since) then since = failed end
  end
  if since then latency = math.max(0, now - since) end
end
out[#out + 1] = latency
local today = redis.call('HMGET', base .. 'history:' .. math.floor(now / 86400000), 'processed',
  'failed')
out[#out + 1] = tonumber(today[1] or '0') or 0
out[#out + 1] = tonumber(today[2] or '0') or 0
out[#out + 1] = redis.call('ZCARD', KEYS[10])
return out
