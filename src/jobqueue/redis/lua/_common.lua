-- Shared helpers, prepended to every script. Times come from the Redis server's clock, so the
-- clocks of producers and workers never disagree about leases or due times.
--
-- A queue's keys share the prefix `base` (`jq:{name}:`, one hash tag, one cluster slot): the
-- `jobs` hash holds each job's record (written once at enqueue; see jobqueue/_wire.py), and
-- `base .. 'job:' .. id` is the job's attempt hash, created at its first delivery: deliveries
-- (the fence token), retried, lost, error, traceback, failed_at, completed_at. A job's state is
-- where its id is (pending list, lease, scheduled, retry, dead or completed set), so no script
-- keeps a state field in step. Jobs stored by jobqueue 0.1 keep their record in the attempt
-- hash (`msg`) and their unique lock key in `unique`; every script reads both layouts.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function attempt_key(base, id)
  return base .. 'job:' .. id
end

-- Whether a job exists (in either layout).
local function exists(jobs, base, id)
  return redis.call('HEXISTS', jobs, id) == 1 or redis.call('EXISTS', attempt_key(base, id)) == 1
end

-- The fence: a worker-side change applies only while the job is leased under that delivery's
-- token. A delivery whose lease expired and whose job was recovered (back to pending, or fetched
-- again by anyone) fails it, and its change must do nothing.
local function held(lease, base, id, token)
  return redis.call('ZSCORE', lease, id) ~= false
    and redis.call('HGET', attempt_key(base, id), 'deliveries') == token
end

-- The fence, for a change that ends the lease: like `held`, and the lease is dropped if it was.
local function take_lease(lease, base, id, token)
  return redis.call('HGET', attempt_key(base, id), 'deliveries') == token
    and redis.call('ZREM', lease, id) == 1
end

-- The unique lock a job holds, if any: named by its record, or by a 0.1 job's `unique` field.
local function unique_lock(jobs, base, id)
  local rec = redis.call('HGET', jobs, id)
  if rec then
    local job_type, digest = string.match(rec, '^([^\31]*)\31[^\31]*\31([^\31]*)\31')
    if digest and digest ~= '' then return base .. 'unique:' .. job_type .. ':' .. digest end
    return nil
  end
  local ok, value = pcall(redis.call, 'HGET', attempt_key(base, id), 'unique')
  if ok and value and value ~= '' then return value end
  return nil
end

-- Release a unique lock if `id` still holds it.
local function unlock(lock, id)
  if lock and lock ~= '' and redis.call('GET', lock) == id then redis.call('DEL', lock) end
end

-- Release the unique lock a job holds, if it still holds it.
local function release_unique(jobs, base, id)
  unlock(unique_lock(jobs, base, id), id)
end

-- Delete every trace of a job.
local function forget(jobs, base, id)
  redis.call('HDEL', jobs, id)
  redis.call('DEL', attempt_key(base, id))
end

-- Move a job to the dead set, then bound the set by age and by count (forgetting those jobs).
-- A cancelled job goes there too (`cancelled_at` set, counted as `cancelled`, lock released).
local function bury(dead, jobs, base, stats, id, err, tb, now, max_jobs, max_age_ms, cancelled)
  local ak = attempt_key(base, id)
  if redis.call('TYPE', ak).ok ~= 'hash' then redis.call('DEL', ak) end
  redis.call('HSET', ak, 'error', err, 'traceback', tb, 'failed_at', now)
  if cancelled then
    release_unique(jobs, base, id)
    redis.call('HSET', ak, 'cancelled_at', now)
    redis.call('HINCRBY', stats, 'cancelled', 1)
  else
    redis.call('HINCRBY', stats, 'dead', 1)
  end
  redis.call('ZADD', dead, now, id)
  local old = redis.call('ZRANGEBYSCORE', dead, '-inf', now - max_age_ms, 'LIMIT', 0, 100)
  for _, o in ipairs(old) do
    forget(jobs, base, o)
    redis.call('ZREM', dead, o)
  end
  local extra = redis.call('ZCARD', dead) - max_jobs
  if extra > 0 then
    for _, o in ipairs(redis.call('ZRANGE', dead, 0, extra - 1)) do forget(jobs, base, o) end
    redis.call('ZREMRANGEBYRANK', dead, 0, extra - 1)
  end
end

-- Tell result waiters (`queue.result()`) that a job ended, if it keeps its result.
local function announce(base, id, keeps)
  if keeps then redis.call('PUBLISH', base .. 'done', id) end
end

-- Forget completed jobs whose retention ended (at most `limit` of them); returns how many.
local function trim_completed(completed, jobs, base, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', completed, '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    forget(jobs, base, id)
    redis.call('ZREM', completed, id)
  end
  return #ids
end
