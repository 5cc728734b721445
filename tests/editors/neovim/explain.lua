--- `:GalacticaExplain [mode]` on the formula under the cursor and on a visual selection, as typed.
--- Input: {file, text, cases = {{line, col, mode} or {line, col, end_col, mode, visual = true}}},
--- 1-based lines and 0-based byte columns (end_col inclusive).
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.setup()
  local buf = H.open(I.file, I.text)
  H.seen.cases = {}
  for _, case in ipairs(I.cases) do
    for _, f in ipairs(H.floats()) do
      vim.api.nvim_win_close(f.win, true)
    end
    vim.api.nvim_win_set_cursor(0, { case.line, case.col })
    local mode = case.mode ~= vim.NIL and (" " .. case.mode) or ""
    if case.visual then
      H.type(('v%dl:GalacticaExplain%s<CR>'):format(case.end_col - case.col, mode))
    else
      H.type((':GalacticaExplain%s<CR>'):format(mode))
    end
    local floats = H.wait(20000, function() local f = H.floats(); return #f > 0 and f end, 'the explanation float')
    table.insert(H.seen.cases, {
      floats = floats,
      result = require('galactica').last_explanation.result,
      filetype = vim.bo[floats[1].buf].filetype,
      cursor_window_is_float = vim.api.nvim_win_get_config(0).relative ~= '',
    })
  end
  H.seen.text = H.text(buf)
  H.seen.modified = vim.bo[buf].modified
end)
