-- The error groups of a queue, most recently seen first: reads the groups themselves, never the
-- retry or dead sets (see `group_error` in _common.lua).
-- KEYS: 1 groups zset. ARGV: 1 queue base, 2 limit (0: all), 3 one group id ('' : any)
-- Returns per group: id, type, message, example, first ms, last ms, seen, count, latest job id
local base, limit = ARGV[1], tonumber(ARGV[2])
local gids
if ARGV[3] ~= '' then
  gids = {}
  if redis.call('ZSCORE', KEYS[1], ARGV[3]) then gids[1] = ARGV[3] end
else
  gids = redis.call('ZREVRANGE', KEYS[1], 0, limit - 1)
end
local out = {}
for _, gid in ipairs(gids) do
  local meta = base .. 'group:' .. gid
  local f = redis.call('HMGET', meta, 'type', 'message', 'example', 'first', 'last', 'seen')
  local latest = redis.call('ZRANGE', meta .. ':jobs', -1, -1)
  out[#out + 1] = gid
  for i = 1, 6 do out[#out + 1] = f[i] or '' end
  out[#out + 1] = redis.call('ZCARD', meta .. ':jobs')
  out[#out + 1] = latest[1] or ''
end
return out
