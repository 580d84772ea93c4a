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
