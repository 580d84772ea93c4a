-- Delete a queue: forget up to ARGV[2] of its jobs per call (from pending, then each set, then
-- records left in the jobs hash), releasing their unique locks; once none is left, delete the
-- queue's own keys, its history and error groups, and its name. Refuses while a job is active.
-- KEYS: 1 pending, 2 scheduled, 3 retry, 4 dead, 5 completed, 6 lease, 7 jobs, 8 queues set
-- ARGV: 1 queue base, 2 chunk size, 3 queue name
-- Returns {jobs forgotten, 1 when the queue is gone (0: call again), -1 if a job is active}
local base, size = ARGV[1], tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[6]) > 0 then return {0, -1} end
local function drop(id)
  release_unique(KEYS[7], base, id)
  forget(KEYS[7], base, id)
end
local n = 0
for _, id in ipairs(redis.call('RPOP', KEYS[1], size) or {}) do drop(id); n = n + 1 end
for i = 2, 5 do
  if n >= size then break end
  for _, id in ipairs(redis.call('ZRANGE', KEYS[i], 0, size - n - 1)) do
    drop(id)
    redis.call('ZREM', KEYS[i], id)
    n = n + 1
  end
end
if n < size then
  for _, id in ipairs(redis.call('HRANDFIELD', KEYS[7], size - n) or {}) do drop(id); n = n + 1 end
end
if n > 0 then return {n, 0} end
local gids = redis.call('ZRANGE', base .. 'groups', 0, -1)
for _, gid in ipairs(gids) do
  redis.call('DEL', base .. 'group:' .. gid, base .. 'group:' .. gid .. ':jobs')
end
local day = math.floor(now_ms() / 86400000)
for d = 0, 91 do redis.call('DEL', base .. 'history:' .. (day - d)) end
for _, name in ipairs({'pending', 'scheduled', 'retry', 'dead', 'completed', 'lease', 'jobs',
    'paused', 'stats', 'scanned_at', 'groups'}) do
  redis.call('DEL', base .. name)
end
redis.call('SREM', KEYS[8], ARGV[3])
return {0, 1}
