-- A job failed for good (PermanentError, retries exhausted, malformed, deadline passed) or was
-- cancelled while it ran: move it to dead.
-- KEYS: 1 lease zset, 2 dead zset, 3 stats hash, 4 jobs hash
-- ARGV: 1 queue base, 2 id, 3 error, 4 traceback, 5 dead max jobs, 6 dead max age ms, 7 count
--       the failure (1) or not (0), 8 delivery token, 9 'cancelled' or 'dead', 10 tell result
--       waiters (1) or not (0)
-- Returns 1, or 0 when the delivery is stale (nothing changed).
local base, id = ARGV[1], ARGV[2]
if not take_lease(KEYS[1], base, id, ARGV[8]) then
  redis.call('HINCRBY', KEYS[3], 'stale', 1)
  return 0
end
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[3], 'failed', 1) end
if ARGV[7] == '1' then count_history(base, now_ms(), 'failed', 1) end
bury(KEYS[2], KEYS[4], base, KEYS[3], id, ARGV[3], ARGV[4], now_ms(), tonumber(ARGV[5]),
  tonumber(ARGV[6]), ARGV[9] == 'cancelled')
announce(base, id, ARGV[10] == '1')
return 1
