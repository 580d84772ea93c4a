-- Delete a job wherever it waits (pending, scheduled, retry, dead, completed) and release its
-- unique lock. An active job is not deleted: its worker still holds it.
-- KEYS: 1 pending, 2 scheduled, 3 retry, 4 dead, 5 completed, 6 lease, 7 jobs
-- ARGV: 1 queue base, 2 id. Returns 1 if deleted, 0 if there was no such job, -1 if it is active.
local base, id = ARGV[1], ARGV[2]
if not exists(KEYS[7], base, id) then return 0 end
if redis.call('ZSCORE', KEYS[6], id) then return -1 end
redis.call('LREM', KEYS[1], 0, id)
for i = 2, 5 do redis.call('ZREM', KEYS[i], id) end
release_unique(KEYS[7], base, id)
ungroup(base, id)
forget(KEYS[7], base, id)
return 1
