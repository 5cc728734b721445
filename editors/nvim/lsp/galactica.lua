--- galactica-lsp for Neovim >= 0.11: `vim.lsp.enable('galactica')` starts it for TeX, Markdown and Python.
---
--- Override any field with `vim.lsp.config('galactica', { ... })`; settings merge key by key, e.g.
---   vim.lsp.config('galactica', { settings = { galactica = { model = 'mini', device = 'cuda' } } })
--- Every setting (the same names as in VS Code and the README's table) lives under `galactica`:
---   model, device, dtype, engine, maxNewTokens, contextTokens, suggestions, citationSuggestions,
---   citationMenuWait, diversity,
---   temperature, topP, topK, languages, inline, hover, completeInComments, citationThreshold,
---   bibliography, bibMatchThreshold, timeLimit, explainMaxTokens, verify, verifyEndpoints, verifyTimeout,
---   endpoint.
--- Unset ones keep the server's defaults (and `--model`/`--device` given in `cmd`).

---@type vim.lsp.Config
return {
  cmd = { 'galactica-lsp' },
  filetypes = { 'tex', 'plaintex', 'markdown', 'python' },
  root_markers = { '.latexmkrc', 'main.tex', 'pyproject.toml', '.git' },
  settings = { galactica = vim.empty_dict() },
  handlers = {
    -- The model's life cycle: {state = loading|ready|busy|error|empty, message, model?, device?, dtype?, percentage?}.
    ['galactica/status'] = function(_, status)
      vim.g.galactica_status = status
      vim.api.nvim_exec_autocmds('User', { pattern = 'GalacticaStatus', modeline = false, data = status })
      pcall(vim.cmd.redrawstatus)
    end,
  },
}
