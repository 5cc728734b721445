--- The citation picker: `:GalacticaCite` (normal mode) and the same command from insert mode, with
--- vim.ui.select answered by picking the first item. Input: {file, text, cases = {{line, insert}}}:
--- the cursor goes to the end of `line` (1-based).
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.setup()
  local buf = H.open(I.file, I.text)
  local picked = nil
  vim.ui.select = function(items, opts, on_choice)
    local shown = {}
    for _, item in ipairs(items) do
      shown[#shown + 1] = opts.format_item(item)
    end
    picked = { items = items, shown = shown, prompt = opts.prompt }
    vim.schedule(function() on_choice(items[1], 1) end)
  end

  local cited = nil
  vim.api.nvim_create_autocmd('User', { pattern = 'GalacticaCited', callback = function(ev) cited = ev.data end })

  H.seen.cases = {}
  for _, case in ipairs(I.cases) do
    picked, cited = nil, nil
    local before = vim.api.nvim_buf_get_lines(buf, case.line - 1, case.line, true)[1]
    vim.api.nvim_win_set_cursor(0, { case.line, 0 })
    if case.insert then
      H.type('A<Cmd>GalacticaCite<CR>')
    else
      H.type('$:GalacticaCite<CR>')
    end
    H.wait(20000, function() return picked ~= nil end, 'the picker')
    H.wait(5000, function()
      return vim.api.nvim_buf_get_lines(buf, case.line - 1, case.line, true)[1] ~= before
    end, 'the reference to be inserted')
    H.wait(5000, function() return cited ~= nil end, 'the plugin to place the cursor (User GalacticaCited)')
    local seen = vim.deepcopy(picked)
    seen.line = vim.api.nvim_buf_get_lines(buf, case.line - 1, case.line, true)[1]
    seen.cursor = vim.api.nvim_win_get_cursor(0)
    seen.mode = H.mode()
    H.type('<Esc>')
    table.insert(H.seen.cases, seen)
  end
  H.seen.text = H.text(buf)
end)
