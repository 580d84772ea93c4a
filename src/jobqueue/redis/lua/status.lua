-- Where a job is, for `result()` and `progress()`: its state and what it left.
-- KEYS: 1 jobs hash, 2 lease, 3 scheduled, 4 retry, 5 dead, 6 completed
-- ARGV: 1 queue base, 2 id
-- Returns {state ('' when there is no such job), result, error, progress, cancelled_at,
--          job type}
local base, id = ARGV[1], ARGV[2]
if not exists(KEYS[1], base, id) then return {''} end
local state = 'pending'
local names = {'active', 'scheduled', 'retry', 'dead', 'completed'}
for k = 2, 6 do
  if redis.call('ZSCORE', KEYS[k], id) then state = names[k - 1] break end
end
local ok, v = pcall(redis.call, 'HMGET', attempt_key(base, id), 'result', 'error', 'progress',
  'cancelled_at')
if not ok then v = {} end
local rec = redis.call('HGET', KEYS[1], id) or ''
local job_type = string.match(rec, '^([^\31]*)\31') or ''
return {state, v[1] or '', v[2] or '', v[3] or '', v[4] or '', job_type}
