"""The Redis twin's scripts: every operation on the hash and its leases is one of these."""

from __future__ import annotations

PRELUDE = """
local function hset(list, first)
  for i = first, #list, 1000 do
    redis.call('HSET', KEYS[1], unpack(list, i, math.min(i + 999, #list)))
  end
end
for j = 2, #KEYS do
  local holder, token = redis.call('GET', KEYS[j]), ARGV[j - 1]
  if holder and holder ~= token then return {1, j - 1} end
  if not holder and token ~= '' then return {2, j - 1} end
end
local first = math.max(#KEYS, 2)
"""
# One lease at most. ARGV[2] '1' to end the lease with this write (a locked block's last), else '';
# ARGV[3], ARGV[4], ...: hash field, value, hash field, value, ...
WRITE = PRELUDE + """
hset(ARGV, 3)
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 0
"""
# One lease at most. ARGV[2] hash field, ARGV[3] new value, ARGV[4] how to compare with ARGV[5]:
# 'any' (exchange), 'same' (the same bytes) or 'number' (numerically equal, as floats compare);
# ARGV[6] what the field holds when the hash lacks it.
# Answers '1' or '0' (whether it set the field) followed by the old value.
SWAP = PRELUDE + """
local old = redis.call('HGET', KEYS[1], ARGV[2]) or ARGV[6]
local mode, expected = ARGV[4], ARGV[5]
if mode == 'any' or (mode == 'same' and old == expected)
    or (mode == 'number' and tonumber(old) == tonumber(expected)) then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  return '1' .. old
end
return '0' .. old
"""
# From ARGV[first], five per add: hash field, delta, type ('int', 'f' or 'd'), lowest, highest.
# All sums are checked before any is written; answers the last new value.
# Integers are added exactly as decimal strings split into two doubles (Lua has no 64-bit ints).
ADD = PRELUDE + """
local B = 1e9
local function split(s)
  local negative = s:sub(1, 1) == '-'
  if negative then s = s:sub(2) end
  local hi, lo = 0, tonumber(s)
  if #s > 9 then hi, lo = tonumber(s:sub(1, #s - 9)), tonumber(s:sub(#s - 8)) end
  if not negative then return hi, lo end
  if lo > 0 then return -hi - 1, B - lo end
  return -hi, 0
end
local function less(ah, al, bh, bl) return ah < bh or (ah == bh and al < bl) end
local function join(hi, lo)
  local sign = ''
  if hi < 0 then
    sign = '-'
    if lo > 0 then hi, lo = -hi - 1, B - lo else hi = -hi end
  end
  if hi == 0 then return sign .. string.format('%d', lo) end
  return sign .. string.format('%d%09d', hi, lo)
end
local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end
local sums, sum = {}, nil
for i = first, #ARGV, 5 do
  local field, delta, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('HGET', KEYS[1], field) or '0'
  if kind == 'int' then
    local ch, cl = split(current)
    local dh, dl = split(delta)
    local h, l = ch + dh, cl + dl
    if l >= B then h, l = h + 1, l - B end
    local lowh, lowl = split(ARGV[i + 3])
    local highh, highl = split(ARGV[i + 4])
    if less(h, l, lowh, lowl) or less(highh, highl, h, l) then return {3, (i - first) / 5 + 1} end
    sum = join(h, l)
  else
    local c, d = tonumber(current), tonumber(delta)
    local total, limit = c + d, tonumber(ARGV[i + 4])
    if not (total >= -limit and total <= limit) and finite(c) and finite(d) then return {3, (i - first) / 5 + 1} end
    if kind == 'f' then total = (struct.unpack('f', struct.pack('f', total))) end
    sum = string.format('%.17g', total)
  end
  sums[#sums + 1] = field
  sums[#sums + 1] = sum
end
hset(sums, 1)
return sum
"""
# Takes the lease KEYS[2] for ARGV[2] ms with token ARGV[1] unless another client holds it ({1}),
# and reads hash fields ARGV[3], ... of KEYS[1] in the same step: {0, value, ...}.
TAKE = """
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
local reply = {0}
for i = 3, #ARGV, 1000 do
  local values = redis.call('HMGET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  for k = 1, #values do reply[#reply + 1] = values[k] end
end
return reply
"""
# KEYS[1] a lease; ARGV[1] the token that took it.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
# ARGV: hash field, value, ...: fills in fields the hash does not have yet.
DEFAULTS = """
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0
"""
