-- Move due jobs from the scheduled or retry set to pending. Atomic, so two workers forwarding at
-- once never move a job twice.
-- KEYS: 1 scheduled or retry zset, 2 pending list. ARGV: 1 job prefix, 2 limit
-- Returns {moved, ms until the next job is due (-1: none)}
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('LPUSH', KEYS[2], id)
  redis.call('HSET', ARGV[1] .. id, 'state', 'pending')
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if nxt[2] then wait = math.max(0, tonumber(nxt[2]) - now) end
return {#ids, wait}
