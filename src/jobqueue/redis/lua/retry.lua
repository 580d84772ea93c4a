-- An attempt failed and attempts are left: schedule the next one ARGV[2] ms from now.
-- The unique lock is kept. KEYS: 1 job hash, 2 lease zset, 3 retry zset, 4 stats hash
-- ARGV: 1 id, 2 delay ms, 3 error, 4 traceback, 5 delivery token
if stale(KEYS[1], ARGV[5]) then return 0 end
local now = now_ms()
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'retried', 1)
redis.call('HSET', KEYS[1], 'state', 'retry', 'error', ARGV[3], 'traceback', ARGV[4],
  'failed_at', now, 'process_at', now + tonumber(ARGV[2]))
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HINCRBY', KEYS[4], 'failed', 1)
return 1
