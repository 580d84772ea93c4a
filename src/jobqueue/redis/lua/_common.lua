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

-- Operations (see docs/operations.md): daily history and error groups ---------------------------

-- Daily history: `base .. 'history:' .. <days since the epoch>` is a hash of processed, failed
-- and dead counts for one UTC day, kept for 90 days after its first count.
local HISTORY_TTL = 90 * 86400
local function count_history(base, now, field, n)
  local key = base .. 'history:' .. math.floor(now / 86400000)
  if redis.call('HINCRBY', key, field, n) == n then redis.call('EXPIRE', key, HISTORY_TTL) end
end

-- The fingerprint of an error: its exception type, and its message with quoted values, ids and
-- numbers masked, so that "row 17 not found" and "row 18 not found" are one group. The prefixes
-- the worker adds on the way to dead ("retries exhausted after 3 attempts: ", "permanent: ") are
-- dropped, so a job's retries and its death share a group. Returns id, type, masked message.
local function mask_token(token)
  if not string.find(token, '%d') then return token end
  if string.find(token, '^%d+$') or #token >= 8 then return string.find(token, '%a') and '<id>'
    or '<n>' end
  return (string.gsub(token, '%d+', '<n>'))
end

local function fingerprint(err)
  local text = string.sub(err or '', 1, 2000)
  text = string.gsub(text, '^retries exhausted after %d+ attempts?: ', '')
  text = string.gsub(text, '^permanent: ', '')
  local etype, message = string.match(text, '^([%a_][%w_%.]*): (.*)$')
  if not etype then etype, message = '', text end
  message = ' ' .. message .. ' '
  for _ = 1, 2 do  -- twice: a match consumes the character before the next quote
    message = string.gsub(message, "([^%w])'[^']*'", "%1'?'")
    message = string.gsub(message, '([^%w])"[^"]*"', '%1"?"')
  end
  message = string.gsub(message, '[%w_%-]+', mask_token)
  message = string.sub(string.gsub(message, '%s+', ' '), 2, -2)
  message = string.sub(message, 1, 500)
  return string.sub(redis.sha1hex(etype .. '\n' .. message), 1, 16), etype, message
end

-- Error groups: `groups` (zset: group id -> last seen ms), `group:<id>` (hash: type, message,
-- example, first, last, seen) and `group:<id>:jobs` (zset: the ids of the group's jobs now in
-- retry or dead -> when they joined). A job's attempt hash names its group (`group`).
local function ungroup(base, id)
  local ok, gid = pcall(redis.call, 'HGET', attempt_key(base, id), 'group')
  if not ok or not gid then return end
  redis.call('HDEL', attempt_key(base, id), 'group')
  local meta = base .. 'group:' .. gid
  redis.call('ZREM', meta .. ':jobs', id)
  if redis.call('EXISTS', meta .. ':jobs') == 0 then
    redis.call('DEL', meta)
    redis.call('ZREM', base .. 'groups', gid)
  end
end

-- A job entered retry or dead with error `err`: file it under its error's group.
local function group_error(base, id, err, now)
  local gid, etype, message = fingerprint(err)
  local ak = attempt_key(base, id)
  local old = redis.call('HGET', ak, 'group')
  if old and old ~= gid then ungroup(base, id) end
  redis.call('HSET', ak, 'group', gid)
  local meta = base .. 'group:' .. gid
  redis.call('ZADD', meta .. ':jobs', now, id)
  if redis.call('HSETNX', meta, 'first', now) == 1 then
    redis.call('HSET', meta, 'type', etype, 'message', message, 'example', string.sub(err, 1, 500))
  end
  redis.call('HSET', meta, 'last', now)
  redis.call('HINCRBY', meta, 'seen', 1)
  redis.call('ZADD', base .. 'groups', now, gid)
end

-- An attempt failed and the job waits for its next one: count it, and group its error.
local function failed_attempt(base, id, err, now)
  count_history(base, now, 'failed', 1)
  group_error(base, id, err, now)
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
    ungroup(base, id)  -- a cancel is no error: it leaves the group of its last failure
  else
    redis.call('HINCRBY', stats, 'dead', 1)
    count_history(base, now, 'dead', 1)
    group_error(base, id, err, now)
  end
  redis.call('ZADD', dead, now, id)
  local old = redis.call('ZRANGEBYSCORE', dead, '-inf', now - max_age_ms, 'LIMIT', 0, 100)
  for _, o in ipairs(old) do
    ungroup(base, o)
    forget(jobs, base, o)
    redis.call('ZREM', dead, o)
  end
  local extra = redis.call('ZCARD', dead) - max_jobs
  if extra > 0 then
    for _, o in ipairs(redis.call('ZRANGE', dead, 0, extra - 1)) do
      ungroup(base, o)
      forget(jobs, base, o)
    end
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
