--- Drives a real headless Neovim like a user: keys go through nvim_input (the same queue a UI
--- feeds), so insert mode, mappings, timers and LSP messages all run in Neovim's own main loop.
---
--- A scenario is a coroutine: `H.wait(ms, predicate)` yields to the main loop until the predicate
--- holds. What the scenario records in `H.seen` is written as JSON to $GALACTICA_TEST_OUT, with
--- `error` set if it failed; Neovim then exits (status 0, or 1 on failure).
local H = { seen = {} }

local out = assert(os.getenv('GALACTICA_TEST_OUT'), 'GALACTICA_TEST_OUT is not set')
--- The scenario's input, written by the pytest side: the document, where to act, what to type.
H.input = vim.json.decode(io.open(assert(os.getenv('GALACTICA_TEST_IN')), 'r'):read('a'))
local deadline_ms = tonumber(os.getenv('GALACTICA_TEST_TIMEOUT_MS') or '60000')

local function finish(err)
  H.seen.error = err
  H.seen.status = vim.g.galactica_status
  H.seen.statusline = package.loaded.galactica and require('galactica').statusline() or nil
  H.seen.messages = vim.split(vim.api.nvim_exec2('messages', { output = true }).output, '\n', { trimempty = true })
  local file = assert(io.open(out, 'w'))
  file:write(vim.json.encode(H.seen))
  file:close()
  vim.cmd(err and 'cquit 1' or 'qall!')
end

local function resume()
  local ok, err = coroutine.resume(H.co)
  if not ok then
    finish(debug.traceback(H.co, tostring(err)))
  elseif coroutine.status(H.co) == 'dead' then
    finish(nil)
  end
end

--- Run the scenario `fn` once Neovim's main loop is up.
function H.run(fn)
  H.co = coroutine.create(fn)
  vim.defer_fn(function() -- a whole-run guard: never hang the test suite
    if coroutine.status(H.co) ~= 'dead' then
      finish(('scenario still running after %d ms; last wait: %s'):format(deadline_ms, H.waiting or '-'))
    end
  end, deadline_ms)
  vim.schedule(resume)
end

--- Yield to the main loop until `predicate()` is truthy (checked every 20 ms); error after `ms`.
function H.wait(ms, predicate, what)
  H.waiting = what
  local started = vim.uv.now()
  local timer = assert(vim.uv.new_timer())
  local value, failure
  timer:start(0, 20, vim.schedule_wrap(function()
    if timer:is_closing() then
      return
    end
    local ok, result = pcall(predicate)
    if ok and result then
      value = result
    elseif not ok then
      failure = ('%s failed: %s'):format(what or 'a condition', tostring(result))
    elseif vim.uv.now() - started > ms then
      failure = ('timed out after %d ms waiting for %s'):format(ms, what or 'a condition')
    else
      return
    end
    timer:stop()
    timer:close()
    resume()
  end))
  coroutine.yield()
  if failure then
    error(failure, 2)
  end
  H.waiting = nil
  return value
end

function H.sleep(ms)
  local started = vim.uv.now()
  H.wait(ms + 1000, function() return vim.uv.now() - started >= ms end, 'sleep')
end

--- Keys as a user types them (mappings apply), e.g. H.type('A'), H.type('<Tab>').
function H.type(keys)
  vim.api.nvim_input(keys)
  H.sleep(30) -- let the main loop take the keys
end

function H.mode()
  return vim.api.nvim_get_mode().mode
end

--- The plugin as a user sets it up, with the server command the test chose.
function H.setup(opts)
  require('galactica').setup(vim.tbl_deep_extend('force', {
    cmd = vim.json.decode(assert(os.getenv('GALACTICA_LSP_CMD'))),
  }, H.input.setup or {}, opts or {}))
end

--- Write `text` to `path`, edit it, and wait until the galactica client is attached and ready.
function H.open(path, text)
  local file = assert(io.open(path, 'w'))
  file:write(text)
  file:close()
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  H.wait(20000, function() return #vim.lsp.get_clients({ bufnr = buf, name = 'galactica' }) > 0 end,
    'the galactica client to attach')
  H.wait(60000, function()
    local s = vim.g.galactica_status
    if type(s) == 'table' and s.state == 'error' then
      error('the model failed to load: ' .. tostring(s.message))
    end
    return type(s) == 'table' and s.state == 'ready'
  end, "galactica/status 'ready'")
  return buf
end

function H.text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf or 0, 0, -1, true), '\n')
end

--- The ghost text Neovim shows now as {text, hint, row, col, lines}, or nil. `text` is what is
--- drawn on the cursor line (what the user has typed already is skipped), `hint` the "(i/n)" tag.
function H.ghost(buf)
  local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  local mark = ns and vim.api.nvim_buf_get_extmarks(buf or 0, ns, 0, -1, { details = true })[1]
  if not mark then
    return nil
  end
  local text, hint = {}, nil
  for _, chunk in ipairs(mark[4].virt_text or {}) do
    if chunk[2] == 'ComplHintMore' then
      hint = chunk[1]
    else
      text[#text + 1] = chunk[1]
    end
  end
  return { text = table.concat(text), hint = hint, row = mark[2], col = mark[3], lines = #(mark[4].virt_lines or {}) }
end

--- The floating windows open now, each as {text, buf, win}.
function H.floats()
  local found = {}
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      local buf = vim.api.nvim_win_get_buf(win)
      found[#found + 1] = { win = win, buf = buf, text = H.text(buf) }
    end
  end
  return found
end

--- Every galactica/status the server sent, in order.
function H.record_status()
  H.seen.states = {}
  vim.api.nvim_create_autocmd('User', {
    pattern = 'GalacticaStatus',
    callback = function(args) table.insert(H.seen.states, args.data.state) end,
  })
end

return H
