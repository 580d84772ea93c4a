-- An attempt failed and attempts are left: schedule the next one ARGV[3] ms from now.
-- The unique lock is kept. KEYS: 1 lease zset, 2 retry zset, 3 stats hash
-- ARGV: 1 queue base, 2 id, 3 delay ms, 4 error, 5 traceback, 6 delivery token
-- Returns 1, or 0 when the delivery is stale (nothing changed).
local base, id = ARGV[1], ARGV[2]
if not take_lease(KEYS[1], base, id, ARGV[6]) then
  redis.call('HINCRBY', KEYS[3], 'stale', 1)
  return 0
end
local now = now_ms()
local ak = attempt_key(base, id)
redis.call('HINCRBY', ak, 'retried', 1)
redis.call('HSET', ak, 'error', ARGV[4], 'traceback', ARGV[5], 'failed_at', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), id)
redis.call('HINCRBY', KEYS[3], 'failed', 1)
failed_attempt(base, id, ARGV[4], now)
return 1
