-- Move due scheduled and retry jobs to pending. Atomic, so two workers forwarding at once never
-- move a job twice. A retry leaves its error group (`ungroup`) as it becomes pending.
-- KEYS: 1 scheduled zset, 2 retry zset, 3 pending list
-- ARGV: 1 limit per set, 2 notify channel
-- Returns {moved, ms until the next job is due (-1: none)}
local now = now_ms()
local moved, wait = 0, -1
for k = 1, 2 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
  for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[k], id)
    redis.call('LPUSH', KEYS[3], id)
    if k == 2 then ungroup(string.sub(KEYS[2], 1, -6), id) end  -- base: KEYS[2] less 'retry'
  end
  moved = moved + #ids
  local nxt = redis.call('ZRANGE', KEYS[k], 0, 0, 'WITHSCORES')
  if nxt[2] then
    local w = math.max(0, tonumber(nxt[2]) - now)
    if wait < 0 or w < wait then wait = w end
  end
end
if moved > 0 and redis.call('LLEN', KEYS[3]) == moved then
  redis.call('PUBLISH', ARGV[2], '1')
end
return {moved, wait}
