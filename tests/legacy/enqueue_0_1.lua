-- Shared helpers, prepended to every script. Times come from the Redis server's clock, so the
-- clocks of producers and workers never disagree about leases or due times.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An acknowledgement is stale when the job was handed to another worker since (its lease expired
-- and it was recovered): the delivery token no longer matches, and the ack must change nothing.
local function stale(job, token)
  return token ~= '' and redis.call('HGET', job, 'deliveries') ~= token
end

-- Move a job to the dead set, then bound the set by age and by count (dropping job hashes too).
local function bury(dead, job_prefix, stats, id, err, tb, now, max_jobs, max_age_ms)
  redis.call('HSET', job_prefix .. id, 'state', 'dead', 'error', err, 'traceback', tb,
    'failed_at', now)
  redis.call('ZADD', dead, now, id)
  redis.call('HINCRBY', stats, 'dead', 1)
  local old = redis.call('ZRANGEBYSCORE', dead, '-inf', now - max_age_ms, 'LIMIT', 0, 100)
  for _, o in ipairs(old) do
    redis.call('DEL', job_prefix .. o)
    redis.call('ZREM', dead, o)
  end
  local extra = redis.call('ZCARD', dead) - max_jobs
  if extra > 0 then
    for _, o in ipairs(redis.call('ZRANGE', dead, 0, extra - 1)) do
      redis.call('DEL', job_prefix .. o)
    end
    redis.call('ZREMRANGEBYRANK', dead, 0, extra - 1)
  end
end

-- Enqueue jobs of one queue: for each, take the unique lock if asked, store the job hash, then
-- make it pending (or scheduled when it is due later). One call can carry a whole batch.
-- KEYS: 1 pending list, 2 scheduled zset
-- ARGV: 1 job prefix, 2 notify channel (published to when the queue was empty, to wake idle
--       workers), then 9 fields per job: id, message, job type, process_at ms (0: now),
--       unique ttl ms (0: none), unique lock key, max_retry ('' = job type default),
--       timeout seconds (''), delay ms from now (0: none)
-- Returns {enqueued_at_ms, then per job: state ('pending' | 'scheduled') | 'duplicate <existing
-- id>' | 'conflict <id>'}: one flat string per job is the cheapest reply to build and to read.
local now = now_ms()
local queue = string.match(KEYS[1], '{(.*)}')
local out = {tostring(now)}
local woke = false
for i = 3, #ARGV, 9 do
  local id, jk = ARGV[i], ARGV[1] .. ARGV[i]
  local unique = ''
  local reply
  if redis.call('EXISTS', jk) == 1 then
    reply = 'conflict ' .. id
  elseif ARGV[i + 4] ~= '0' and not redis.call('SET', ARGV[i + 5], id, 'NX', 'PX', ARGV[i + 4]) then
    reply = 'duplicate ' .. (redis.call('GET', ARGV[i + 5]) or '')
  else
    if ARGV[i + 4] ~= '0' then unique = ARGV[i + 5] end
    local due = tonumber(ARGV[i + 3])
    if ARGV[i + 8] ~= '0' then due = now + tonumber(ARGV[i + 8]) end
    local state = 'pending'
    if due > now then
      state = 'scheduled'
      redis.call('ZADD', KEYS[2], due, id)
    else
      due = now
      if redis.call('LPUSH', KEYS[1], id) == 1 then woke = true end
    end
    redis.call('HSET', jk, 'msg', ARGV[i + 1], 'type', ARGV[i + 2], 'queue', queue,
      'state', state, 'enqueued_at', now, 'process_at', due, 'max_retry', ARGV[i + 6],
      'timeout', ARGV[i + 7], 'unique', unique, 'retried', 0, 'lost', 0)
    reply = state
  end
  out[#out + 1] = reply
end
if woke then redis.call('PUBLISH', ARGV[2], '1') end
return out
