-- Return jobs whose lease expired (their worker died, stalled or lost Redis) to the front of
-- pending; a job whose lease expired ARGV[2] times goes to dead instead. Also forget completed
-- jobs whose retention ended, so the completed set shrinks even when nothing completes.
--
-- After a gap: when no worker scanned for ARGV[8] ms, Redis itself (or every worker) was away, so
-- no lease could be renewed and an expired one says nothing about its worker. Such leases get one
-- more lease time instead, for live workers to renew, and the jobs of dead ones come back then.
-- KEYS: 1 lease zset, 2 pending list, 3 dead zset, 4 stats hash, 5 completed zset, 6 jobs hash
-- ARGV: 1 queue base, 2 max deliveries, 3 dead max jobs, 4 dead max age ms, 5 limit,
--       6 notify channel, 7 lease ms, 8 gap ms
-- Returns {recovered, buried, completed jobs forgotten, leases extended after a gap}
local now = now_ms()
local base = ARGV[1]
local scanned = base .. 'scanned_at'
local last = tonumber(redis.call('GET', scanned) or '')
redis.call('SET', scanned, now)
local trimmed = trim_completed(KEYS[5], KEYS[6], base, now, tonumber(ARGV[5]))
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
if last and now - last > tonumber(ARGV[8]) then
  for _, id in ipairs(ids) do
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[7]), id)
  end
  return {0, 0, trimmed, #ids}
end
local recovered, buried = 0, 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  if exists(KEYS[6], base, id) then
    local ak = attempt_key(base, id)
    local lost = redis.call('HINCRBY', ak, 'lost', 1)
    if redis.call('HEXISTS', ak, 'cancel') == 1 then
      -- Asked to stop, and its worker went away: it stays cancelled, not run again.
      bury(KEYS[3], KEYS[6], base, KEYS[4], id, 'cancelled', '', now, tonumber(ARGV[3]),
        tonumber(ARGV[4]), true)
      announce(base, id, true)
      buried = buried + 1
    elseif lost >= tonumber(ARGV[2]) then
      bury(KEYS[3], KEYS[6], base, KEYS[4], id,
        'lost ' .. lost .. ' times: its lease expired before it finished (the worker died, '
        .. 'stalled or lost Redis)', '', now, tonumber(ARGV[3]), tonumber(ARGV[4]))
      buried = buried + 1
    else
      redis.call('RPUSH', KEYS[2], id)
      recovered = recovered + 1
    end
  end
end
if recovered > 0 then redis.call('PUBLISH', ARGV[6], '1') end
return {recovered, buried, trimmed, 0}
