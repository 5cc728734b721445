--- Galactica in Neovim: ghost text keymaps, a citation picker, formula explanations, a statusline part.
---
---   require('galactica').setup({ settings = { model = 'base' } })
---
--- The server's config is `lsp/galactica.lua` (next to this `lua/` folder); `setup()` merges its
--- options into it with `vim.lsp.config`, enables it, and on attach (Neovim 0.12) turns on
--- `vim.lsp.inline_completion` for the buffer, or (Neovim 0.11) the LSP completion menu.
local M = {}

local NAME = 'galactica'

M.defaults = {
  -- Merged into `vim.lsp.config('galactica', …)`; nil keeps lsp/galactica.lua's value.
  cmd = nil, ---@type string[]?
  filetypes = nil, ---@type string[]?
  settings = {}, -- the `galactica` section: model, device, suggestions, … (see the README)
  enable = true, -- call vim.lsp.enable('galactica')
  -- The LSP completion menu (`vim.lsp.completion`): citations at [START_REF], \cite{ and [@, and
  -- continuations where ghost text is unavailable (Neovim 0.11). false leaves the menu to your
  -- completion plugin; 'manual' attaches it without opening it as you type (<C-x><C-o>).
  menu = 'auto', ---@type 'auto'|'manual'|false
  -- Insert-mode keys for ghost text (false: no mapping). <Tab> falls back to itself.
  keys = { accept = '<Tab>', next = '<M-]>', prev = '<M-[>' },
}

M.config = vim.deepcopy(M.defaults)

--- The galactica client attached to a buffer, or nil with a message.
---@param bufnr? integer
---@return vim.lsp.Client?
local function client_for(bufnr)
  local client = vim.lsp.get_clients({ bufnr = bufnr or 0, name = NAME })[1]
  if not client then
    vim.notify('Galactica: no language server attached to this buffer', vim.log.levels.WARN)
  end
  return client
end

--- workspace/executeCommand with one object argument; `on_result(result)` runs only on success.
local function execute(client, bufnr, command, argument, on_result)
  client:request('workspace/executeCommand', { command = command, arguments = { argument } }, function(err, result)
    if err then
      vim.notify(('Galactica: %s'):format(err.message or vim.inspect(err)), vim.log.levels.WARN)
    elseif result ~= nil then
      on_result(result)
    end
  end, bufnr)
end

--- The LSP position where text goes: the insert-mode cursor, or after the character under the
--- normal-mode cursor (where `a` would type).
local function insertion_point(client)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local line = vim.api.nvim_get_current_line()
  if not vim.api.nvim_get_mode().mode:match('^i') and #line > 0 then
    col = math.min(#line, col + #vim.fn.matchstr(line:sub(col + 1), '^.'))
  end
  local character = vim.lsp.util.character_offset(0, row - 1, col, client.offset_encoding)
  return row - 1, col, { line = row - 1, character = character }
end

-- Statusline -----------------------------------------------------------------------------------

--- 'Galactica: ready (base, cuda)', 'Galactica: loading 40%', … or '' before the server speaks.
function M.statusline()
  local s = vim.g.galactica_status
  if type(s) ~= 'table' or not s.state then
    return ''
  end
  local text = 'Galactica: ' .. s.state
  if s.state == 'loading' and s.percentage then
    text = ('%s %d%%'):format(text, s.percentage)
  elseif s.model then
    text = ('%s (%s, %s)'):format(text, s.model, s.device or '?')
  end
  return text
end

-- Citations ------------------------------------------------------------------------------------

--- A reference on one line: the model may run on over several.
local function one_line(text)
  return vim.trim((text:gsub('%s+', ' ')))
end

--- One picker line: title, author, how sure, the key when it is in your bibliography, what
--- galactica.verify found (when on), and a mark on likely made-up papers.
function M.format_suggestion(s)
  local author = s.author ~= vim.NIL and one_line(s.author) or 'author unknown'
  local line = ('%s — %s (%d%% sure)'):format(one_line(s.title), author, math.floor(s.confidence * 100 + 0.5))
  if s.inLibrary then
    line = line .. ('  [in your library: %s]'):format(s.key)
  elseif s.key then
    line = line .. ('  [not in your library: %s]'):format(s.key)
  end
  local check = s.verification
  if type(check) == 'table' and check.state ~= 'off' then
    line = line .. ('  [%s]'):format(check.summary)
  end
  return s.likelyMadeUp and (line .. '  [likely made up]') or line
end

--- The byte column of an LSP position in a buffer line.
local function byte_col(bufnr, position, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, position.line, position.line + 1, false)[1] or ''
  return vim.str_byteindex(line, encoding, math.min(position.character, vim.str_utfindex(line, encoding)), false)
end

--- Ask for references for the prose before the cursor (or `at` = {bufnr, position}, as the code
--- action gives), pick one with vim.ui.select; the server cites it (`galactica.insertCitation`: the
--- key from your library or a suggested key, in the syntax of the place). No insertion logic here.
function M.cite(at)
  local bufnr = at and at.bufnr or vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local row, col, position
  if at and at.position then
    position = at.position
    row, col = position.line, byte_col(bufnr, position, client.offset_encoding)
  else
    row, col, position = insertion_point(client)
  end
  -- An extmark follows the spot while the model works and the buffer changes.
  local ns = vim.api.nvim_create_namespace('galactica.cite')
  local mark = vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, {})
  local uri = vim.uri_from_bufnr(bufnr)
  execute(client, bufnr, 'galactica.suggestCitations', { uri = uri, position = position }, function(result)
    local suggestions = result.suggestions or {}
    if #suggestions == 0 then
      vim.api.nvim_buf_del_extmark(bufnr, ns, mark)
      local why = result.message ~= '' and result.message or 'no suggestion'
      vim.notify('Galactica: ' .. why, vim.log.levels.INFO)
      return
    end
    vim.ui.select(suggestions, { prompt = 'Cite (Galactica can invent papers: check them)', kind = 'galactica.citation',
      format_item = M.format_suggestion }, function(choice, index)
      local spot = vim.api.nvim_buf_get_extmark_by_id(bufnr, ns, mark, {})
      if not (choice and spot[1]) then
        vim.api.nvim_buf_del_extmark(bufnr, ns, mark)
        return
      end
      local character = vim.lsp.util.character_offset(bufnr, spot[1], spot[2], client.offset_encoding)
      local argument = { uri = uri, position = { line = spot[1], character = character }, index = index - 1 }
      execute(client, bufnr, 'galactica.insertCitation', argument, function(answer)
        vim.api.nvim_buf_del_extmark(bufnr, ns, mark)
        if answer.applied and answer['end'] and vim.api.nvim_get_current_buf() == bufnr then
          -- The server says where the citation ends: past it in insert mode, on its last character otherwise.
          local line = answer['end'].line
          local byte = byte_col(bufnr, answer['end'], client.offset_encoding)
          local insert = vim.api.nvim_get_mode().mode:sub(1, 1) == 'i'
          vim.api.nvim_win_set_cursor(0, { line + 1, insert and byte or math.max(byte - 1, 0) })
        elseif not answer.applied and answer.message ~= '' then
          vim.notify('Galactica: ' .. answer.message, vim.log.levels.INFO)
        end
        -- For mappings and tests: the citation is in (or was not inserted), and the cursor placed.
        vim.api.nvim_exec_autocmds('User', { pattern = 'GalacticaCited', data = answer })
      end)
    end)
  end)
end

--- The code action "Suggest citations here" runs this picker client-side (its command is the
--- server's galactica.pickCitation, which clients without a picker leave to the server).
vim.lsp.commands['galactica.pickCitation'] = function(command, ctx)
  local argument = (command.arguments or {})[1] or {}
  M.cite({ bufnr = ctx.bufnr, position = argument.position })
end

-- Formula explanations -------------------------------------------------------------------------

M.MODES = { 'explain', 'work', 'sympy' }
local TITLES = { explain = 'Explanation', work = 'Step by step', sympy = 'SymPy' }

--- The explanation as Markdown lines for the float.
local function explanation_lines(result)
  local body = result.mode == 'sympy' and ('```python\n%s\n```'):format(result.text) or result.text
  local cut = (result.finishReason == 'eos' or result.finishReason == 'stop') and '' or ', cut short'
  local text = ('**%s** of `%s`\n\n%s\n\n*Galactica, %d%% sure%s. Written by a language model: check it.*'):format(
    TITLES[result.mode] or result.mode, result.latex, body, math.floor(result.confidence * 100 + 0.5), cut)
  return vim.split(text, '\n')
end

--- Explain the formula under the cursor, or in `range` ({start_row, start_col, end_row, end_col},
--- 1-based rows, 0-based end-inclusive byte columns, as the '< and '> marks), in a floating window.
---@param mode? 'explain'|'work'|'sympy'
---@param range? integer[]
function M.explain(mode, range)
  mode = mode or 'explain'
  if not vim.tbl_contains(M.MODES, mode) then
    vim.notify('Galactica: mode must be one of ' .. table.concat(M.MODES, ', '), vim.log.levels.ERROR)
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local lsp_range
  if range then
    local last = vim.api.nvim_buf_get_lines(bufnr, range[3] - 1, range[3], true)[1]
    local end_col = math.min(range[4], math.max(#last - 1, 0)) -- linewise marks end at v:maxcol
    lsp_range = vim.lsp.util.make_given_range_params({ range[1], range[2] }, { range[3], end_col }, bufnr,
      client.offset_encoding).range
  else
    local position = vim.lsp.util.make_position_params(0, client.offset_encoding).position
    lsp_range = { start = position, ['end'] = position }
  end
  local argument = { uri = vim.uri_from_bufnr(bufnr), range = lsp_range, mode = mode, insert = false }
  vim.api.nvim_echo({ { ('Galactica: %s…'):format(TITLES[mode]:lower()) } }, false, {})
  execute(client, bufnr, 'galactica.explainFormula', argument, function(result)
    vim.api.nvim_echo({ { '' } }, false, {})
    local buf, win = vim.lsp.util.open_floating_preview(explanation_lines(result), 'markdown', {
      border = 'rounded', focus_id = 'galactica.explain', max_width = 80, wrap = true,
    })
    M.last_explanation = { buf = buf, win = win, result = result }
  end)
end

-- Continue the paragraph (the server inserts the text through workspace/applyEdit) ---------------

function M.continue_paragraph()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if client then
    local _, _, position = insertion_point(client)
    execute(client, bufnr, 'galactica.continueParagraph', { uri = vim.uri_from_bufnr(bufnr), position = position },
      function() end)
  end
end

-- Attaching ------------------------------------------------------------------------------------

--- Neovim's menu inserts a plain-text item's textEdit only up to its first space (fixed upstream
--- after 0.12.0-dev by neovim/neovim#37949): once a galactica item is accepted, put in the rest.
local function complete_the_edit(client, bufnr)
  local item = vim.v.completed_item
  local lsp = vim.tbl_get(item, 'user_data', 'nvim', 'lsp') or {}
  local edit = vim.tbl_get(lsp, 'completion_item', 'textEdit')
  if lsp.client_id ~= client.id or not edit or not edit.range or (vim.v.event.reason or 'accept') ~= 'accept' then
    return
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local line = vim.api.nvim_get_current_line()
  local start = vim.str_byteindex(line, client.offset_encoding, edit.range.start.character, false)
  local typed = line:sub(start + 1, col)
  if edit.range.start.line ~= row - 1 or typed ~= item.word or edit.newText == item.word then
    return -- not what the menu put there, or it put in the whole edit
  end
  local lines = vim.split(edit.newText, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row - 1, start, row - 1, col, lines)
  vim.api.nvim_win_set_cursor(0, { row + #lines - 1, (#lines == 1 and start or 0) + #lines[#lines] })
end

local function map(bufnr, lhs, rhs, desc, opts)
  if lhs then
    vim.keymap.set('i', lhs, rhs, vim.tbl_extend('force', { buffer = bufnr, desc = 'Galactica: ' .. desc }, opts or {}))
  end
end

--- Per buffer, when the galactica client attaches.
local function on_attach(client, bufnr)
  local cfg = M.config
  -- Ghost text on Neovim 0.12 unless `galactica.inline = false` asks for the menu instead.
  local inline = vim.lsp.inline_completion ~= nil and client:supports_method('textDocument/inlineCompletion', bufnr)
    and vim.tbl_get(client.settings or {}, 'galactica', 'inline') ~= false
  if inline then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    local keys = cfg.keys or {}
    map(bufnr, keys.accept, function()
      if not vim.lsp.inline_completion.get() then
        return keys.accept
      end
    end, 'accept the suggestion', { expr = true })
    map(bufnr, keys.next, function() vim.lsp.inline_completion.select({ count = 1 }) end, 'next suggestion')
    map(bufnr, keys.prev, function() vim.lsp.inline_completion.select({ count = -1 }) end, 'previous suggestion')
  end
  if cfg.menu and vim.lsp.completion then -- citations; continuations too without ghost text (0.11, inline=false)
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = cfg.menu == 'auto' })
    if cfg.menu == 'auto' then -- a menu that opens by itself must show one entry and insert none unasked
      local opts = vim.split(vim.o.completeopt, ',', { trimempty = true })
      for _, flag in ipairs({ 'menuone', 'noselect' }) do
        if not vim.tbl_contains(opts, flag) and not (flag == 'noselect' and vim.tbl_contains(opts, 'noinsert')) then
          opts[#opts + 1] = flag
        end
      end
      pcall(vim.api.nvim_set_option_value, 'completeopt', table.concat(opts, ','), { buf = bufnr })
    end
    vim.api.nvim_create_autocmd('CompleteDone', {
      group = vim.api.nvim_create_augroup('galactica.menu.' .. bufnr, { clear = true }),
      buffer = bufnr,
      callback = function() complete_the_edit(client, bufnr) end,
    })
  end
end

--- Configure and enable the server, and set up buffers as it attaches.
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local cfg = M.config
  local overrides = { cmd = cfg.cmd, filetypes = cfg.filetypes }
  if next(cfg.settings) then
    overrides.settings = { galactica = cfg.settings }
  end
  vim.lsp.config(NAME, overrides)

  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('galactica', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == NAME then
        on_attach(client, args.buf)
      end
    end,
  })

  vim.api.nvim_create_user_command('GalacticaCite', function() M.cite() end, { desc = 'Galactica: pick a reference for the cursor' })
  vim.api.nvim_create_user_command('GalacticaContinue', M.continue_paragraph,
    { desc = 'Galactica: continue the paragraph' })
  vim.api.nvim_create_user_command('GalacticaExplain', function(a)
    local range
    if a.range > 0 then -- :'<,'> uses the selection's columns; other line ranges take whole lines
      local from, to = vim.api.nvim_buf_get_mark(0, '<'), vim.api.nvim_buf_get_mark(0, '>')
      local visual = from[1] == a.line1 and to[1] == a.line2
      range = { a.line1, visual and from[2] or 0, a.line2, visual and to[2] or vim.v.maxcol }
    end
    M.explain(a.args ~= '' and a.args or nil, range)
  end, { nargs = '?', range = true, complete = function() return M.MODES end,
    desc = 'Galactica: explain the formula under the cursor or the selection [explain|work|sympy]' })

  if cfg.enable then
    vim.lsp.enable(NAME)
  end
end

return M
