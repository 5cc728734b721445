--- Ghost text: type the end of a line, wait for the suggestion, look at the next and previous
--- ones, accept with <Tab>. Input: {file, before, after, typed}; the cursor goes to the end of
--- `before` (the end of a line), `typed` is typed there.
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.record_status()
  H.setup()
  local buf = H.open(I.file, I.before .. I.after)
  H.seen.filetype = vim.bo.filetype
  H.seen.inline_enabled = vim.lsp.inline_completion.is_enabled({ bufnr = buf })
  local lines = vim.split(I.before, '\n')
  vim.api.nvim_win_set_cursor(0, { #lines, 0 })
  H.type('A' .. I.typed)
  H.seen.typed_text = H.text(buf)

  local ghost = H.wait(20000, function() return H.ghost(buf) end, 'ghost text')
  H.seen.ghost = ghost
  H.type('<M-]>')
  H.seen.after_next = H.wait(5000, function() local g = H.ghost(buf); return g and g.hint and g end, 'a hint')
  H.type('<M-[>')
  H.seen.after_prev = H.wait(5000, function() local g = H.ghost(buf); return g and g.hint and g end, 'a hint')

  local typed = H.text(buf)
  H.type('<Tab>')
  H.wait(5000, function() return H.text(buf) ~= typed end, 'the buffer to change after <Tab>')
  H.seen.cursor = vim.api.nvim_win_get_cursor(0)
  H.seen.cursor_line_length = #vim.api.nvim_get_current_line()
  H.type('<Esc>')
  H.seen.text = H.text(buf)
  H.seen.mode = H.mode()

  -- <Tab> with no suggestion showing types what <Tab> types without the mapping.
  vim.lsp.inline_completion.enable(false, { bufnr = buf })
  H.type('Go<Tab><Esc>')
  H.seen.plain_tab_line = vim.api.nvim_get_current_line()
  H.type('u')
  vim.keymap.del('i', '<Tab>', { buffer = buf })
  H.type('Go<Tab><Esc>')
  H.seen.unmapped_tab_line = vim.api.nvim_get_current_line()
end)
