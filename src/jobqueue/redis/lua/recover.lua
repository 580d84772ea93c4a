-- Return jobs whose lease expired (their worker died) to the front of pending; a job lost
-- ARGV[2] times goes to dead instead.
-- KEYS: 1 lease zset, 2 pending list, 3 dead zset, 4 stats hash
-- ARGV: 1 job prefix, 2 max deliveries, 3 dead max jobs, 4 dead max age ms, 5 limit,
--       6 notify channel
-- Returns {recovered, buried}
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
local recovered, buried = 0, 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local jk = ARGV[1] .. id
  if redis.call('EXISTS', jk) == 1 then
    local lost = redis.call('HINCRBY', jk, 'lost', 1)
    if lost >= tonumber(ARGV[2]) then
      bury(KEYS[3], ARGV[1], KEYS[4], id,
        'lost: its worker stopped without finishing it ' .. lost .. ' times', '', now,
        tonumber(ARGV[3]), tonumber(ARGV[4]))
      buried = buried + 1
    else
      redis.call('RPUSH', KEYS[2], id)
      redis.call('HSET', jk, 'state', 'pending')
      recovered = recovered + 1
    end
  end
end
if recovered > 0 then redis.call('PUBLISH', ARGV[6], '1') end
return {recovered, buried}
