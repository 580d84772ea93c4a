-- A job failed for good (PermanentError, retries exhausted, malformed): move it to dead.
-- KEYS: 1 lease zset, 2 dead zset, 3 stats hash
-- ARGV: 1 id, 2 error, 3 traceback, 4 job prefix, 5 dead max jobs, 6 dead max age ms, 7 count
--       the failure (1) or not (0), 8 delivery token
if stale(ARGV[4] .. ARGV[1], ARGV[8] or '') then return 0 end
local now = now_ms()
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[3], 'failed', 1) end
bury(KEYS[2], ARGV[4], KEYS[3], ARGV[1], ARGV[2], ARGV[3], now, tonumber(ARGV[5]),
  tonumber(ARGV[6]))
return 1
