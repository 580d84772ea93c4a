-- Estimate the Redis memory a queue uses, by sampling: never a scan of the queue. The queue's
-- own keys are measured with MEMORY USAGE ... SAMPLES; the keys it has per job (attempt hashes,
-- unique locks) and per error group are measured for a few random jobs (groups) of each state
-- and scaled by the state's size; error groups are measured (up to 100 of them).
-- KEYS: 1 pending, 2 lease, 3 scheduled, 4 retry, 5 dead, 6 completed, 7 paused, 8 stats,
--       9 jobs, 10 groups, 11 scanned_at
-- ARGV: 1 queue base, 2 samples per key and per state
-- Returns the estimate in bytes.
local base, samples = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local function usage(key)
  return redis.call('MEMORY', 'USAGE', key, 'SAMPLES', samples) or 0
end
local total = 0
for i = 1, #KEYS do total = total + usage(KEYS[i]) end
local day = math.floor(now / 86400000)
for d = 0, 90 do total = total + usage(base .. 'history:' .. (day - d)) end

-- The per-job keys of a sample of ids, scaled to `size` jobs.
local function per_job(ids, size)
  if #ids == 0 then return 0 end
  local sum = 0
  for _, id in ipairs(ids) do
    sum = sum + usage(attempt_key(base, id))
    local lock = unique_lock(KEYS[9], base, id)
    if lock then sum = sum + usage(lock) end
  end
  return sum / #ids * size
end

local pending = redis.call('LLEN', KEYS[1])
if pending > 0 then
  local ids = {}
  for n = 1, math.min(samples, pending) do
    ids[#ids + 1] = redis.call('LINDEX', KEYS[1], math.floor((n - 1) * pending / samples))
  end
  total = total + per_job(ids, pending)
end
for i = 2, 6 do
  local size = redis.call('ZCARD', KEYS[i])
  if size > 0 then total = total + per_job(redis.call('ZRANDMEMBER', KEYS[i], samples), size) end
end
local groups = redis.call('ZCARD', KEYS[10])
if groups > 0 then
  local gids = redis.call('ZRANGE', KEYS[10], 0, 99)
  local sum = 0
  for _, gid in ipairs(gids) do
    sum = sum + usage(base .. 'group:' .. gid) + usage(base .. 'group:' .. gid .. ':jobs')
  end
  total = total + sum / #gids * groups
end
return math.floor(total)
