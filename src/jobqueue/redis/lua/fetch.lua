-- Fetch up to ARGV[1] jobs, trying the queues in the order given (the caller's weighted order for
-- this fetch), and lease each one until now + ARGV[2] ms under a new delivery token.
-- KEYS: per queue, 5 keys: pending, lease, dead, paused, jobs
-- ARGV: 1 count, 2 lease ms, 3 dead max jobs, 4 dead max age ms, then per queue: base
-- Returns a flat list: queue index, id, record, retried count, delivery token; repeated.
local out = {}
local want = tonumber(ARGV[1])
local now = now_ms()
local lease_until = now + tonumber(ARGV[2])
local max_dead, max_age = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, #KEYS / 5 do
  if want <= 0 then break end
  local pending, lease, dead, paused, jobs = KEYS[5*i-4], KEYS[5*i-3], KEYS[5*i-2], KEYS[5*i-1],
    KEYS[5*i]
  local base = ARGV[4 + i]
  local stats = base .. 'stats'
  if redis.call('EXISTS', paused) == 0 then
    local ids = redis.call('RPOP', pending, want)
    if ids then
      for _, id in ipairs(ids) do
        local ak = attempt_key(base, id)
        local rec = redis.call('HGET', jobs, id)
        if not rec then
          local ok, legacy = pcall(redis.call, 'HGET', ak, 'msg')
          if ok and legacy then rec = legacy end
        end
        local ok, token = pcall(redis.call, 'HINCRBY', ak, 'deliveries', 1)
        if rec and ok then
          redis.call('ZADD', lease, lease_until, id)
          out[#out+1] = i
          out[#out+1] = id
          out[#out+1] = rec
          out[#out+1] = redis.call('HGET', ak, 'retried') or '0'
          out[#out+1] = token
          want = want - 1
        else
          -- Keep a trace of what cannot be delivered: an id without a record (written by hand,
          -- half-deleted), or an attempt hash that is not one.
          local why = 'malformed: no job stored under this id'
          if rec then why = 'malformed: the job\'s attempt record is not a hash of counters' end
          bury(dead, jobs, base, stats, id, why, '', now, max_dead, max_age)
        end
      end
    end
  end
end
return out
