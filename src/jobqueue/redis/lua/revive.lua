-- Run a dead (or retry-waiting, or scheduled) job again now: move it to pending with a fresh
-- retry count.
-- KEYS: 1 job hash, 2 pending, 3 dead, 4 retry, 5 scheduled. ARGV: 1 id
-- Returns 1 if moved, 0 if the job is not waiting in one of those sets.
local removed = redis.call('ZREM', KEYS[3], ARGV[1]) + redis.call('ZREM', KEYS[4], ARGV[1])
  + redis.call('ZREM', KEYS[5], ARGV[1])
if removed == 0 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'retried', 0, 'lost', 0)
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
