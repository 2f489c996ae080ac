/* store_lua.h — the Redis Function library (private to the store).
 *
 * Loaded with FUNCTION LOAD REPLACE on every connect; functions persist with
 * the data (AOF/RDB), so there is no NOSCRIPT window. The library name
 * carries a version: a change of semantics gets a new name.
 *
 * ac_commit_v6  KEYS: the call's key and its bucket's call index (the bucket
 *                     of the call's first customer), then per customer 4:
 *                     record, outbox, its bucket's due index and experiment
 *                     counters
 *               ARGV: n, the call id, then per customer: expected version
 *                     (the 8 version bytes of the record loaded, "" for a
 *                     customer that had none, "L<decimal>" for the previous
 *                     layout), the new record, due ("" = leave the due entry,
 *                     "-" = remove it, else its new score), customer id,
 *                     outbox field ("" = none), bundle, n_counters,
 *                     field/by..., n_legacy_keys, key... (previous layout only)
 *   Returns one integer per customer: 0 applied, 1 the version differs
 *   (another writer committed since the load: re-read and retry).
 *   Applied: the record (SET), the due entry, the outbox bundle and the
 *   counters, atomically per customer. The call registers itself once, not
 *   each customer, before its first write: the call key holds Redis's time
 *   (ms) and the outbox keys of the customers with a bundle, NUL-separated
 *   (a customer id may hold any other byte), and the call id joins the
 *   bucket's call index; a call that wrote no bundle in the end removes
 *   both. Its writer deletes both when Kafka confirmed the records (plain DEL
 *   and SREM after the HDELs); a call older than the sweep's period, left by
 *   a writer that died or failed, is delivered by the timer process's sweep.
 *
 * ac_call_done_v6  KEYS: a call's key, its call index   ARGV: the call id
 *   Drops the call (key and index entry) if none of its outboxes holds a
 *   record any more. Returns 1 if dropped, 0 if kept.
 *
 * ac_ack_v6  KEYS: per customer 2: outbox, its bucket's outbox index
 *           ARGV: n, then per customer: customer id, n_fields, field...
 *   The outbox index of the previous version (a member per customer with
 *   records): removes the delivered bundles, then drops the customer from
 *   the index if its outbox is empty (and its member of the previous layout,
 *   the state key). Returns how many index entries it dropped. Only the
 *   sweep uses it, for what an older writer left.
 *
 * ac_ewm_v6  KEYS: <prefix>:ewm   ARGV: field, event time...
 *   Raises each "<topic>:<partition>" field to the event time given, never
 *   lowers it (a rebalanced partition replays older events).
 *
 * The record's version sits at bytes 2..9 of its value (record.h), so the
 * check is a GETRANGE, not a decode. One call carries many customers
 * because the fixed cost of a call dominates a customer's work, and each
 * redis.call inside a function costs more than the command itself: the
 * per-customer work is the fewest calls that keep the commit atomic (the
 * version check, SET, the due entry, HSET). Every customer key is declared
 * and a customer's keys share its bucket's hash tag, so a call grouped by
 * hash slot stays valid on Redis Cluster, except the call key, which lists
 * outbox keys of other buckets (calls will be grouped by node there).
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v6"
#define AC_STORE_KEYS_PER_CUSTOMER 4

static const char ac_store_lua[] =
    "#!lua name=aftercare_v6\n"
    "local function commit(keys, args)\n"
    "  local out, listed, wrote, n = {}, {}, 0, tonumber(args[1])\n"
    "  -- the call registers first: an error later in the loop leaves no bundle\n"
    "  -- without its entry (Redis keeps a function's writes up to an error)\n"
    "  local i = 3\n"
    "  for c = 1, n do\n"
    "    if args[i + 4] ~= '' then listed[#listed + 1] = keys[2 + 4 * (c - 1) + 2] end\n"
    "    i = i + 7 + tonumber(args[i + 6]) * 2\n"
    "    i = i + 1 + tonumber(args[i])\n"
    "  end\n"
    "  if #listed > 0 then\n"
    "    local t = redis.call('TIME')\n"
    "    local ms = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))\n"
    "    redis.call('SET', keys[1], ms .. '\\0' .. table.concat(listed, '\\0'))\n"
    "    redis.call('SADD', keys[2], args[2])\n"
    "  end\n"
    "  i = 3\n"
    "  for c = 1, n do\n"
    "    local k = 2 + 4 * (c - 1)\n"
    "    local st, ob, due, xc = keys[k + 1], keys[k + 2], keys[k + 3], keys[k + 4]\n"
    "    local want, rec, dueat, cid, field, bundle = args[i], args[i + 1], args[i + 2],\n"
    "      args[i + 3], args[i + 4], args[i + 5]\n"
    "    local nk = tonumber(args[i + 6]); local ks = i + 7; i = ks + nk * 2\n"
    "    local nl = tonumber(args[i]); local ls = i + 1; i = ls + nl\n"
    "    local ok\n"
    "    if string.sub(want, 1, 1) == 'L' then\n"
    "      ok = redis.call('TYPE', st)['ok'] == 'hash' and\n"
    "        (redis.call('HGET', st, 'v') or '0') == string.sub(want, 2)\n"
    "    else\n"
    "      -- a key of another type (a writer of the previous layout): a conflict\n"
    "      local cur = redis.pcall('GETRANGE', st, 2, 9)\n"
    "      ok = type(cur) == 'string' and cur == want\n"
    "    end\n"
    "    if not ok then\n"
    "      out[c] = 1\n"
    "    else\n"
    "      if nl > 0 then\n"
    "        redis.call('DEL', st)\n"
    "        for j = ls, ls + nl - 1 do\n"
    "          local key, member = string.match(args[j], '^(.-)\\n(.*)$')\n"
    "          if key then redis.call('ZREM', key, member) else redis.call('DEL', args[j]) end\n"
    "        end\n"
    "      end\n"
    "      if rec ~= '' then redis.call('SET', st, rec) end\n"
    "      if dueat == '-' then redis.call('ZREM', due, cid)\n"
    "      elseif dueat ~= '' then redis.call('ZADD', due, dueat, cid) end\n"
    "      if field ~= '' then\n"
    "        redis.call('HSET', ob, field, bundle)\n"
    "        wrote = wrote + 1\n"
    "      end\n"
    "      for j = 0, nk - 1 do\n"
    "        redis.call('HINCRBY', xc, args[ks + j * 2], args[ks + j * 2 + 1])\n"
    "      end\n"
    "      out[c] = 0\n"
    "    end\n"
    "  end\n"
    "  if #listed > 0 and wrote == 0 then\n"
    "    redis.call('DEL', keys[1])\n"
    "    redis.call('SREM', keys[2], args[2])\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function call_done(keys, args)\n"
    "  local v = redis.call('GET', keys[1])\n"
    "  if v then\n"
    "    local first = true\n"
    "    for ob in string.gmatch(v, '[^%z]+') do\n"
    "      if not first and redis.call('EXISTS', ob) == 1 then return 0 end\n"
    "      first = false\n"
    "    end\n"
    "    redis.call('DEL', keys[1])\n"
    "  end\n"
    "  redis.call('SREM', keys[2], args[1])\n"
    "  return 1\n"
    "end\n"
    "local function ack(keys, args)\n"
    "  local i, dropped = 2, 0\n"
    "  for c = 1, tonumber(args[1]) do\n"
    "    local ob, obi = keys[2 * c - 1], keys[2 * c]\n"
    "    local cid, n = args[i], tonumber(args[i + 1])\n"
    "    local s = i + 2\n"
    "    i = s + n\n"
    "    if n > 0 then redis.call('HDEL', ob, unpack(args, s, s + n - 1)) end\n"
    "    if redis.call('EXISTS', ob) == 0 then\n"
    "      local old = string.gsub(ob, '}:o:', '}:c:', 1)\n"
    "      dropped = dropped + redis.call('SREM', obi, cid, old)\n"
    "    end\n"
    "  end\n"
    "  return dropped\n"
    "end\n"
    "local function ewm(keys, args)\n"
    "  for j = 1, #args, 2 do\n"
    "    local cur = tonumber(redis.call('HGET', keys[1], args[j]) or '-1')\n"
    "    if tonumber(args[j + 1]) > cur then redis.call('HSET', keys[1], args[j], args[j + 1]) "
    "end\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "redis.register_function('ac_commit_v6', commit)\n"
    "redis.register_function('ac_call_done_v6', call_done)\n"
    "redis.register_function('ac_ewm_v6', ewm)\n"
    "redis.register_function('ac_ack_v6', ack)\n";

#endif
