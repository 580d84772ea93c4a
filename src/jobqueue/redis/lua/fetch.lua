-- Fetch up to ARGV[1] jobs, trying the queues in the order given (the caller's weighted order for
-- this fetch), and lease each one until now + ARGV[2] ms.
-- KEYS: per queue, 4 keys: pending, lease, dead, paused
-- ARGV: 1 count, 2 lease ms, 3 dead max jobs, 4 dead max age ms, then per queue: job prefix, stats
-- Returns a flat list: queue index, id, message, retried count, delivery token; repeated.
local out = {}
local want = tonumber(ARGV[1])
local now = now_ms()
local lease_until = now + tonumber(ARGV[2])
local nq = #KEYS / 4
for i = 1, nq do
  if want <= 0 then break end
  local pending, lease, dead, paused = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  local prefix, stats = ARGV[3 + 2*i], ARGV[4 + 2*i]
  if redis.call('EXISTS', paused) == 0 then
    local ids = redis.call('RPOP', pending, want)
    if ids then
      for _, id in ipairs(ids) do
        local jk = prefix .. id
        local v = redis.call('HMGET', jk, 'msg', 'retried')
        if v[1] then
          redis.call('ZADD', lease, lease_until, id)
          redis.call('HSET', jk, 'state', 'active')
          out[#out+1] = i
          out[#out+1] = id
          out[#out+1] = v[1]
          out[#out+1] = v[2] or '0'
          out[#out+1] = redis.call('HINCRBY', jk, 'deliveries', 1)
          want = want - 1
        else
          -- An id without a stored message (written by hand, or a half-deleted job): keep a trace.
          bury(dead, prefix, stats, id, 'malformed: no job stored under this id', '', now,
            tonumber(ARGV[3]), tonumber(ARGV[4]))
        end
      end
    end
  end
end
return out
