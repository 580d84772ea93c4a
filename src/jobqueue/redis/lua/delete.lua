-- Delete a job wherever it waits (pending, scheduled, retry, dead, completed) and release its
-- unique lock. An active job is not deleted: its worker still holds it.
-- KEYS: 1 job hash, 2 pending, 3 scheduled, 4 retry, 5 dead, 6 completed, 7 lease
-- ARGV: 1 id. Returns 1 if deleted, 0 if there was no such job, -1 if it is active.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('ZSCORE', KEYS[7], ARGV[1]) then return -1 end
redis.call('LREM', KEYS[2], 0, ARGV[1])
for i = 3, 6 do redis.call('ZREM', KEYS[i], ARGV[1]) end
local unique = redis.call('HGET', KEYS[1], 'unique')
if unique and unique ~= '' and redis.call('GET', unique) == ARGV[1] then
  redis.call('DEL', unique)
end
redis.call('DEL', KEYS[1])
return 1
