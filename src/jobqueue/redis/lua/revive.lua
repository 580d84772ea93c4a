-- Run a dead (or retry-waiting, or scheduled) job again now: move it to pending with a fresh
-- retry count.
-- KEYS: 1 pending, 2 dead, 3 retry, 4 scheduled, 5 jobs. ARGV: 1 queue base, 2 id
-- Returns 1 if moved, 0 if the job is not waiting in one of those sets.
local base, id = ARGV[1], ARGV[2]
if not exists(KEYS[5], base, id) then return 0 end
local removed = redis.call('ZREM', KEYS[2], id) + redis.call('ZREM', KEYS[3], id)
  + redis.call('ZREM', KEYS[4], id)
if removed == 0 then return 0 end
ungroup(base, id)
local ak = attempt_key(base, id)
if redis.call('EXISTS', ak) == 1 then redis.call('HSET', ak, 'retried', 0, 'lost', 0) end
redis.call('LPUSH', KEYS[1], id)
return 1
