-- Fetch up to ARGV[1] jobs, trying the queues in the order given (the caller's weighted order for
-- this fetch), and lease each one until now + ARGV[2] ms under a new delivery token.
-- A job whose lease expired before (lost > 0: it may be what killed its worker) is delivered
-- alone, as the only job of its fetch, so that the worker can run it in isolation and a crash it
-- causes again costs no other job a delivery.
-- KEYS: per queue, 5 keys: pending, lease, dead, paused, jobs
-- ARGV: 1 count, 2 lease ms, 3 dead max jobs, 4 dead max age ms, then per queue: base
-- Returns a flat list: queue index, id, record, retried count, delivery token, lost count;
-- repeated.
local out = {}
local want = tonumber(ARGV[1])
local now = now_ms()
local lease_until = now + tonumber(ARGV[2])
local max_dead, max_age = tonumber(ARGV[3]), tonumber(ARGV[4])

-- The record of a job and its attempt counters; nil when it has none that can be read.
local function load(jobs, ak, id)
  local rec = redis.call('HGET', jobs, id)
  local ok, counts = pcall(redis.call, 'HMGET', ak, 'retried', 'lost', 'msg')
  if not ok then return nil, nil, 'malformed: the job\'s attempt record is not a hash' end
  rec = rec or counts[3]
  if not rec then return nil, nil, 'malformed: no job stored under this id' end
  return rec, counts
end

for i = 1, #KEYS / 5 do
  if want <= 0 then break end
  local pending, lease, dead, paused, jobs = KEYS[5*i-4], KEYS[5*i-3], KEYS[5*i-2], KEYS[5*i-1],
    KEYS[5*i]
  local base = ARGV[4 + i]
  if redis.call('EXISTS', paused) == 0 then
    local ids = redis.call('RPOP', pending, want) or {}
    for n, id in ipairs(ids) do
      local ak = attempt_key(base, id)
      local rec, counts, why = load(jobs, ak, id)
      local lost = counts and tonumber(counts[2]) or 0
      if rec and lost > 0 and #out > 0 then
        -- A suspect after other jobs: it waits for a fetch of its own, the rest with it.
        for k = #ids, n, -1 do redis.call('RPUSH', pending, ids[k]) end
        want = 0
        break
      end
      local ok, token = false, nil
      if rec then ok, token = pcall(redis.call, 'HINCRBY', ak, 'deliveries', 1) end
      if ok then
        redis.call('ZADD', lease, lease_until, id)
        out[#out+1] = i
        out[#out+1] = id
        out[#out+1] = rec
        out[#out+1] = counts[1] or '0'
        out[#out+1] = token
        out[#out+1] = lost
        want = want - 1
        if lost > 0 then
          for k = #ids, n + 1, -1 do redis.call('RPUSH', pending, ids[k]) end
          want = 0
          break
        end
      else
        -- Keep a trace of what cannot be delivered: an id without a record (written by hand,
        -- half-deleted), or an attempt record that is not a hash of counters.
        bury(dead, jobs, base, base .. 'stats', id,
          why or 'malformed: the job\'s attempt record is not a hash of counters', '', now,
          max_dead, max_age)
      end
    end
  end
end
return out
