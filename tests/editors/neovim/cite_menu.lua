--- The citation menu while typing (ghost text on): typing `[START_REF]` (or `\cite{`, `[@`) opens
--- the completion menu with the model's references; <C-n> selects the first, <C-y> accepts it.
--- Input: {file, before, after, typed}.
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.setup()
  local buf = H.open(I.file, I.before .. I.after)
  vim.api.nvim_win_set_cursor(0, { #vim.split(I.before, '\n'), 0 })
  H.type('A' .. I.typed)
  H.seen.menu = H.wait(20000, function()
    local info = vim.fn.complete_info({ 'pum_visible', 'items', 'selected' })
    return info.pum_visible == 1 and #info.items > 0 and info
  end, 'the citation menu')
  H.seen.line_with_menu = vim.api.nvim_get_current_line()
  H.type(H.seen.menu.selected == -1 and '<C-n>' or '')
  H.seen.selected = vim.fn.complete_info({ 'selected' }).selected
  H.type('<C-y>')
  H.sleep(300)
  H.seen.line = vim.api.nvim_get_current_line()
  H.seen.cursor = vim.api.nvim_win_get_cursor(0)
  H.type('<Esc>')
  H.seen.text = H.text(buf)
end)
