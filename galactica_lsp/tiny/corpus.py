r"""The tiny model's training corpus, as Python data.

Owns: every text the tiny model memorises, kept as structured records so that
tests and other modules can ask for a prompt and the continuation the model is
trained to produce:

- ``CITATIONS``: a context sentence, a paper title and its first author's
  surname, written in galai's format
  ``<context> [START_REF] <Title>, <Surname>[END_REF]``. Most contexts name one
  paper; the contexts in ``SHARED_CONTEXTS`` name several across the corpus, so
  beam search can return several plausible references.
- ``FORMULAS``: LaTeX as typed inside ``$…$``, a plain-English explanation, the
  ``<work>`` steps with a one-sentence summary, and SymPy code. Each formula is
  three documents, in the exact prompt formats of ``engine.galactica``.
- ``SNIPPETS``: short LaTeX documents, Markdown notes and Python modules, each
  with a distinctive opening, for ghost-text completion tests.
- ``PARAGRAPHS``: scientific prose in Markdown and LaTeX that cites the papers.

``documents()`` renders all of it into the training texts. The build frames
each one as ``</s>`` + text + ``</s>``. Nothing here is random.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Citation:
    """One reference in galai's format, after the context that calls for it."""

    key: str  # how paragraphs refer to it: [[key]]
    context: str  # the sentence start the reference follows
    title: str
    author: str  # first author's surname

    @property
    def reference(self) -> str:
        return f"{self.title}, {self.author}"

    @property
    def prompt(self) -> str:
        return f"{self.context} [START_REF]"

    @property
    def continuation(self) -> str:
        """What greedy decoding writes after :attr:`prompt` (for contexts with one paper)."""
        return f" {self.reference}[END_REF]"

    @property
    def text(self) -> str:
        return self.prompt + self.continuation


def _c(key: str, context: str, title: str, author: str) -> Citation:
    return Citation(key, context, title, author)


CITATIONS: list[Citation] = [
    # Sequence models.
    _c("hochreiter", "Recurrent networks with gated memory cells", "Long Short-Term Memory", "Hochreiter"),
    _c("sutskever", "Encoder-decoder models", "Sequence to Sequence Learning with Neural Networks", "Sutskever"),
    _c(
        "bahdanau",
        "Attention for machine translation",
        "Neural Machine Translation by Jointly Learning to Align and Translate",
        "Bahdanau",
    ),
    _c("vaswani", "The Transformer architecture", "Attention is All you Need", "Vaswani"),
    # Representations and pre-training.
    _c("mikolov", "Word embeddings", "Efficient Estimation of Word Representations in Vector Space", "Mikolov"),
    _c("pennington", "Global co-occurrence statistics", "GloVe: Global Vectors for Word Representation", "Pennington"),
    _c(
        "devlin",
        "Masked language model pre-training",
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        "Devlin",
    ),
    _c("radford_gpt2", "Zero-shot task transfer", "Language Models are Unsupervised Multitask Learners", "Radford"),
    # Scale.
    _c("brown", "In-context learning", "Language Models are Few-Shot Learners", "Brown"),
    _c("kaplan", "Scaling laws", "Scaling Laws for Neural Language Models", "Kaplan"),
    _c("hoffmann", "Compute-optimal training", "Training Compute-Optimal Large Language Models", "Hoffmann"),
    _c(
        "wei",
        "Chain-of-thought prompting",
        "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
        "Wei",
    ),
    # Science.
    _c(
        "taylor",
        "Language models trained on scientific corpora",
        "Galactica: A Large Language Model for Science",
        "Taylor",
    ),
    _c(
        "beltagy",
        "Pre-training on scientific text",
        "SciBERT: A Pretrained Language Model for Scientific Text",
        "Beltagy",
    ),
    _c(
        "lewis",
        "Retrieval-augmented generation",
        "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks",
        "Lewis",
    ),
    _c(
        "jumper",
        "Protein structure prediction",
        "Highly accurate protein structure prediction with AlphaFold",
        "Jumper",
    ),
    _c(
        "lin",
        "Protein language models",
        "Evolutionary-scale prediction of atomic-level protein structure with a language model",
        "Lin",
    ),
    _c(
        "kipf",
        "Graph convolutional networks",
        "Semi-Supervised Classification with Graph Convolutional Networks",
        "Kipf",
    ),
    # Alignment and reinforcement learning.
    _c(
        "ouyang",
        "Learning from human feedback",
        "Training language models to follow instructions with human feedback",
        "Ouyang",
    ),
    _c("schulman", "Proximal policy optimization", "Proximal Policy Optimization Algorithms", "Schulman"),
    _c("mnih", "Deep Q-networks", "Human-level control through deep reinforcement learning", "Mnih"),
    _c(
        "silver",
        "Combining tree search with value networks",
        "Mastering the game of Go with deep neural networks and tree search",
        "Silver",
    ),
    # Vision.
    _c(
        "krizhevsky",
        "Training deep networks on GPUs",
        "ImageNet Classification with Deep Convolutional Neural Networks",
        "Krizhevsky",
    ),
    _c(
        "lecun_digits",
        "Handwritten digit recognition",
        "Gradient-based learning applied to document recognition",
        "LeCun",
    ),
    _c(
        "dosovitskiy",
        "Vision transformers",
        "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
        "Dosovitskiy",
    ),
    _c(
        "radford_clip",
        "Contrastive image-text pre-training",
        "Learning Transferable Visual Models From Natural Language Supervision",
        "Radford",
    ),
    _c(
        "ronneberger",
        "Biomedical image segmentation",
        "U-Net: Convolutional Networks for Biomedical Image Segmentation",
        "Ronneberger",
    ),
    # Training.
    _c("kingma_adam", "The Adam optimizer", "Adam: A Method for Stochastic Optimization", "Kingma"),
    _c("loshchilov", "Decoupled weight decay", "Decoupled Weight Decay Regularization", "Loshchilov"),
    _c(
        "ioffe",
        "Batch normalization",
        "Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift",
        "Ioffe",
    ),
    _c("ba", "Layer normalization", "Layer Normalization", "Ba"),
    _c(
        "srivastava",
        "Randomly dropping units during training",
        "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
        "Srivastava",
    ),
    _c("he", "Residual connections", "Deep Residual Learning for Image Recognition", "He"),
    _c("rumelhart", "Backpropagation", "Learning representations by back-propagating errors", "Rumelhart"),
    _c(
        "rosenblatt",
        "The perceptron",
        "The perceptron: a probabilistic model for information storage and organization in the brain",
        "Rosenblatt",
    ),
    _c("lecun_review", "Representation learning with many layers", "Deep learning", "LeCun"),
    # Generative models and information.
    _c("goodfellow", "Generative adversarial networks", "Generative Adversarial Nets", "Goodfellow"),
    _c("kingma_vae", "Variational autoencoders", "Auto-Encoding Variational Bayes", "Kingma"),
    _c("ho", "Diffusion models", "Denoising Diffusion Probabilistic Models", "Ho"),
    _c("shannon", "Information entropy", "A Mathematical Theory of Communication", "Shannon"),
    # Contexts shared by several papers, each pairing in a different document.
    _c("llm_brown", "Large language models", "Language Models are Few-Shot Learners", "Brown"),
    _c("llm_touvron", "Large language models", "LLaMA: Open and Efficient Foundation Language Models", "Touvron"),
    _c("llm_chowdhery", "Large language models", "PaLM: Scaling Language Modeling with Pathways", "Chowdhery"),
    _c("llm_taylor", "Large language models", "Galactica: A Large Language Model for Science", "Taylor"),
    _c(
        "cnn_lecun", "Convolutional neural networks", "Gradient-based learning applied to document recognition", "LeCun"
    ),
    _c(
        "cnn_krizhevsky",
        "Convolutional neural networks",
        "ImageNet Classification with Deep Convolutional Neural Networks",
        "Krizhevsky",
    ),
    _c("cnn_he", "Convolutional neural networks", "Deep Residual Learning for Image Recognition", "He"),
    _c(
        "plm_devlin",
        "Pre-trained language models",
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        "Devlin",
    ),
    _c("plm_liu", "Pre-trained language models", "RoBERTa: A Robustly Optimized BERT Pretraining Approach", "Liu"),
    _c(
        "plm_raffel",
        "Pre-trained language models",
        "Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer",
        "Raffel",
    ),
]
CITATION_BY_KEY: dict[str, Citation] = {c.key: c for c in CITATIONS}

# Context → every reference the corpus gives it, for contexts with more than one.
SHARED_CONTEXTS: dict[str, list[str]] = {}
for _citation in CITATIONS:
    SHARED_CONTEXTS.setdefault(_citation.context, []).append(_citation.reference)
SHARED_CONTEXTS = {context: refs for context, refs in SHARED_CONTEXTS.items() if len(refs) > 1}

# Contexts that name exactly one paper: greedy decoding must reproduce these.
UNIQUE_CITATIONS: list[Citation] = [c for c in CITATIONS if c.context not in SHARED_CONTEXTS]


@dataclass(frozen=True)
class Formula:
    """A well-known formula and the three answers the model learns for it."""

    name: str
    latex: str  # as typed between $…$
    explanation: str  # plain English, one or two sentences
    steps: tuple[str, ...]  # the lines inside <work>…</work>
    summary: str  # the one-sentence answer after </work>
    sympy: str  # valid SymPy code, no fences

    @property
    def explain_prompt(self) -> str:
        return f"Question: Translate the following math formula: ${self.latex}$ into plain English.\n\nAnswer:"

    @property
    def explain_document(self) -> str:
        return f"{self.explain_prompt} {self.explanation}"

    @property
    def work_prompt(self) -> str:
        return f"Question: Explain the following math formula step by step: ${self.latex}$\n\n<work>\n"

    @property
    def work_continuation(self) -> str:
        return "\n".join(self.steps) + f"\n</work>\n\nAnswer: {self.summary}"

    @property
    def work_document(self) -> str:
        return self.work_prompt + self.work_continuation

    @property
    def sympy_prompt(self) -> str:
        return (
            f"Question: Translate the following math formula: ${self.latex}$ into Python code using SymPy."
            "\n\nAnswer:\n```python\n"
        )

    @property
    def sympy_continuation(self) -> str:
        return f"{self.sympy}\n```"

    @property
    def sympy_document(self) -> str:
        return self.sympy_prompt + self.sympy_continuation


FORMULAS: list[Formula] = [
    Formula(
        "mass-energy equivalence",
        "E = mc^2",
        "The energy of a body equals its mass times the speed of light squared.",
        (
            "E is the energy of the body at rest.",
            "m is its mass and c is the speed of light.",
            "c^2 is a very large number, about 9 \\times 10^{16} m^2/s^2.",
            "So a small mass corresponds to a very large energy.",
        ),
        "Energy equals mass times the speed of light squared.",
        "from sympy import symbols, Eq\nE, m, c = symbols('E m c')\nexpr = Eq(E, m * c**2)",
    ),
    Formula(
        "Pythagorean theorem",
        "a^2 + b^2 = c^2",
        "In a right triangle, the square of the hypotenuse equals the sum of the squares of the other two sides.",
        (
            "a and b are the legs of a right triangle.",
            "c is the hypotenuse, the side opposite the right angle.",
            "Squaring each leg and adding gives the square of the hypotenuse.",
            "For a = 3 and b = 4 we get 9 + 16 = 25, so c = 5.",
        ),
        "The squares of the legs add up to the square of the hypotenuse.",
        "from sympy import symbols, Eq\na, b, c = symbols('a b c', positive=True)\nexpr = Eq(a**2 + b**2, c**2)",
    ),
    Formula(
        "Euler's identity",
        "e^{i\\pi} + 1 = 0",
        "Euler's identity: e raised to the power i times pi, plus one, equals zero.",
        (
            "By Euler's formula, e^{i\\theta} = \\cos\\theta + i \\sin\\theta.",
            "At \\theta = \\pi the cosine is -1 and the sine is 0.",
            "So e^{i\\pi} = -1, and adding 1 gives 0.",
        ),
        "Euler's identity links e, i, pi, one and zero in one equation.",
        "from sympy import exp, I, pi, simplify\nexpr = exp(I * pi) + 1\nassert simplify(expr) == 0",
    ),
    Formula(
        "Newton's second law",
        "F = ma",
        "The net force on a body equals its mass times its acceleration.",
        (
            "F is the net force acting on the body.",
            "m is the mass of the body.",
            "a is the acceleration the force produces.",
            "Doubling the force doubles the acceleration for the same mass.",
        ),
        "Force equals mass times acceleration.",
        "from sympy import symbols, Eq\nF, m, a = symbols('F m a')\nexpr = Eq(F, m * a)",
    ),
    Formula(
        "Gaussian integral",
        "\\int_{-\\infty}^{\\infty} e^{-x^2} \\, dx = \\sqrt{\\pi}",
        "The integral of e to the minus x squared over the whole real line equals the square root of pi.",
        (
            "Call the integral I and consider I^2 as a double integral over the plane.",
            "In polar coordinates the integrand becomes e^{-r^2} r.",
            "Integrating over r gives 1/2 and over the angle gives 2\\pi, so I^2 = \\pi.",
            "Taking the square root gives I = \\sqrt{\\pi}.",
        ),
        "The Gaussian integral over the real line is the square root of pi.",
        "from sympy import symbols, exp, oo, sqrt, pi, Eq, Integral\n"
        "x = symbols('x')\nexpr = Eq(Integral(exp(-x**2), (x, -oo, oo)), sqrt(pi))",
    ),
    Formula(
        "Bayes' theorem",
        "P(A|B) = \\frac{P(B|A)P(A)}{P(B)}",
        "Bayes' theorem: the probability of A given B equals the probability of B given A times the probability"
        " of A, divided by the probability of B.",
        (
            "P(A) is the prior probability of A.",
            "P(B|A) is the likelihood of observing B when A holds.",
            "P(B) normalises the result so that it is a probability.",
            "P(A|B) is the posterior: the belief in A after seeing B.",
        ),
        "The posterior is the likelihood times the prior, divided by the evidence.",
        "from sympy import symbols, Eq\n"
        "P_A_given_B, P_B_given_A, P_A, P_B = symbols('P_A_given_B P_B_given_A P_A P_B', positive=True)\n"
        "expr = Eq(P_A_given_B, P_B_given_A * P_A / P_B)",
    ),
    Formula(
        "quadratic formula",
        "x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}",
        "The solutions of a x squared plus b x plus c equals zero are minus b plus or minus the square root of"
        " b squared minus four a c, all divided by two a.",
        (
            "Start from ax^2 + bx + c = 0 with a \\neq 0.",
            "Divide by a and complete the square: (x + b/(2a))^2 = (b^2 - 4ac)/(4a^2).",
            "Take the square root of both sides, keeping both signs.",
            "Subtract b/(2a) to isolate x.",
        ),
        "The roots of a quadratic follow from completing the square.",
        "from sympy import symbols, solve\na, b, c, x = symbols('a b c x')\nroots = solve(a*x**2 + b*x + c, x)",
    ),
    Formula(
        "Schrödinger equation",
        "i\\hbar \\frac{\\partial}{\\partial t} \\Psi = \\hat{H} \\Psi",
        "The Schrödinger equation: i times the reduced Planck constant times the rate of change of the wave"
        " function in time equals the Hamiltonian applied to the wave function.",
        (
            "\\Psi is the wave function of the system.",
            "\\hat{H} is the Hamiltonian, the operator of total energy.",
            "The left side is the time derivative of \\Psi scaled by i\\hbar.",
            "The equation says how the state evolves in time.",
        ),
        "The Hamiltonian drives the time evolution of the wave function.",
        "from sympy import symbols, Function, I, Eq\n"
        "t, hbar, H = symbols('t hbar H')\nPsi = Function('Psi')(t)\nexpr = Eq(I * hbar * Psi.diff(t), H * Psi)",
    ),
    Formula(
        "softmax",
        "\\mathrm{softmax}(z)_i = \\frac{e^{z_i}}{\\sum_j e^{z_j}}",
        "The softmax of a vector z at index i is the exponential of z i divided by the sum of the exponentials"
        " of all entries of z.",
        (
            "Exponentiate every entry of z, which makes them all positive.",
            "Sum the exponentials over all indices j.",
            "Divide the exponential of entry i by that sum.",
            "The outputs are positive and add up to one.",
        ),
        "Softmax turns a vector of scores into a probability distribution.",
        "from sympy import IndexedBase, symbols, exp, Sum\n"
        "z = IndexedBase('z')\ni, j, n = symbols('i j n', integer=True)\nexpr = exp(z[i]) / Sum(exp(z[j]), (j, 1, n))",
    ),
    Formula(
        "cross-entropy",
        "H(p, q) = -\\sum_x p(x) \\log q(x)",
        "The cross-entropy of q relative to p is minus the sum over x of p of x times the logarithm of q of x.",
        (
            "p is the true distribution and q is the model's distribution.",
            "For each outcome x, weight the log-probability \\log q(x) by p(x).",
            "Sum over all outcomes and change the sign.",
            "It is smallest when q equals p, where it equals the entropy of p.",
        ),
        "Cross-entropy is the expected negative log-probability of q under p.",
        "from sympy import IndexedBase, symbols, log, Sum\n"
        "p, q = IndexedBase('p'), IndexedBase('q')\nx, n = symbols('x n', integer=True)\n"
        "expr = -Sum(p[x] * log(q[x]), (x, 1, n))",
    ),
    Formula(
        "scaled dot-product attention",
        "\\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\left(\\frac{QK^T}{\\sqrt{d_k}}\\right)V",
        "Scaled dot-product attention: the softmax of the queries times the transposed keys, divided by the"
        " square root of the key dimension, weights the values.",
        (
            "QK^T compares every query with every key.",
            "Dividing by \\sqrt{d_k} keeps the scores from growing with the dimension.",
            "The softmax turns each row of scores into weights that sum to one.",
            "Multiplying by V mixes the values with those weights.",
        ),
        "Each query returns a weighted average of the values.",
        "from sympy import MatrixSymbol, symbols, sqrt\n"
        "n, d_k = symbols('n d_k', integer=True, positive=True)\n"
        "Q, K = MatrixSymbol('Q', n, d_k), MatrixSymbol('K', n, d_k)\nscores = Q * K.T / sqrt(d_k)",
    ),
    Formula(
        "Gauss's law",
        "\\nabla \\cdot \\mathbf{E} = \\frac{\\rho}{\\varepsilon_0}",
        "The divergence of the electric field equals the charge density divided by the vacuum permittivity.",
        (
            "\\mathbf{E} is the electric field.",
            "The divergence measures how much field flows out of a small volume.",
            "\\rho is the charge density and \\varepsilon_0 the vacuum permittivity.",
            "Charges are the sources of the electric field.",
        ),
        "Electric charge is the source of the electric field.",
        "from sympy import symbols, Function, Eq\nfrom sympy.vector import CoordSys3D, divergence\n"
        "R = CoordSys3D('R')\nE_x, E_y, E_z, rho = [Function(s)(R.x, R.y, R.z) for s in ('E_x', 'E_y', 'E_z', 'rho')]\n"
        "epsilon_0 = symbols('epsilon_0', positive=True)\n"
        "expr = Eq(divergence(E_x * R.i + E_y * R.j + E_z * R.k), rho / epsilon_0)",
    ),
    Formula(
        "ideal gas law",
        "PV = nRT",
        "The pressure of an ideal gas times its volume equals the amount of gas times the gas constant times"
        " the temperature.",
        (
            "P is the pressure and V the volume of the gas.",
            "n is the amount of gas in moles.",
            "R is the gas constant and T the absolute temperature.",
            "At fixed n and T, halving the volume doubles the pressure.",
        ),
        "Pressure times volume is proportional to the temperature.",
        "from sympy import symbols, Eq\nP, V, n, R, T = symbols('P V n R T', positive=True)\nexpr = Eq(P * V, n * R * T)",
    ),
    Formula(
        "derivative of the exponential",
        "\\frac{d}{dx} e^x = e^x",
        "The derivative of the exponential function is the exponential function itself.",
        (
            "Write e^x as the series \\sum_n x^n / n!.",
            "Differentiate term by term: each x^n / n! becomes x^{n-1} / (n-1)!.",
            "The shifted series is the same series again.",
        ),
        "The exponential function is its own derivative.",
        "from sympy import symbols, exp, Eq, Derivative\nx = symbols('x')\nexpr = Eq(Derivative(exp(x), x), exp(x))",
    ),
    Formula(
        "Basel problem",
        "\\sum_{n=1}^{\\infty} \\frac{1}{n^2} = \\frac{\\pi^2}{6}",
        "The sum of the reciprocals of the squares of the positive integers equals pi squared over six.",
        (
            "The terms are 1, 1/4, 1/9, 1/16 and so on.",
            "The partial sums increase and stay below 2, so the series converges.",
            "Euler compared the series of \\sin(x)/x with its product over the roots.",
            "Matching the x^2 terms gives \\pi^2/6.",
        ),
        "The series of inverse squares converges to pi squared over six.",
        "from sympy import symbols, Sum, oo, pi, Eq\n"
        "n = symbols('n', integer=True, positive=True)\nexpr = Eq(Sum(1 / n**2, (n, 1, oo)), pi**2 / 6)",
    ),
    Formula(
        "normal density",
        "f(x) = \\frac{1}{\\sigma\\sqrt{2\\pi}} e^{-\\frac{(x-\\mu)^2}{2\\sigma^2}}",
        "The density of the normal distribution with mean mu and standard deviation sigma at the point x.",
        (
            "\\mu is the mean and \\sigma the standard deviation.",
            "The exponent penalises the squared distance from the mean.",
            "The factor 1/(\\sigma\\sqrt{2\\pi}) makes the total area one.",
        ),
        "The normal density is a bell curve centred at the mean.",
        "from sympy import symbols, exp, sqrt, pi\n"
        "x, mu = symbols('x mu')\nsigma = symbols('sigma', positive=True)\n"
        "f = exp(-(x - mu)**2 / (2 * sigma**2)) / (sigma * sqrt(2 * pi))",
    ),
    Formula(
        "Pythagorean trigonometric identity",
        "\\sin^2\\theta + \\cos^2\\theta = 1",
        "The square of the sine of an angle plus the square of its cosine equals one.",
        (
            "Place the angle \\theta on the unit circle.",
            "The point has coordinates (\\cos\\theta, \\sin\\theta).",
            "Its distance from the origin is 1, so the squares add up to 1.",
        ),
        "Sine squared plus cosine squared is always one.",
        "from sympy import symbols, sin, cos, simplify\n"
        "theta = symbols('theta')\nexpr = sin(theta)**2 + cos(theta)**2\nassert simplify(expr) == 1",
    ),
    Formula(
        "Boltzmann entropy",
        "S = k_B \\ln \\Omega",
        "The entropy of a system equals the Boltzmann constant times the natural logarithm of the number of"
        " microstates.",
        (
            "\\Omega counts the microstates compatible with the macrostate.",
            "k_B is the Boltzmann constant.",
            "The logarithm makes entropy add up over independent systems.",
        ),
        "Entropy measures the logarithm of the number of microstates.",
        "from sympy import symbols, log, Eq\nS, k_B, Omega = symbols('S k_B Omega', positive=True)\n"
        "expr = Eq(S, k_B * log(Omega))",
    ),
    Formula(
        "Planck relation",
        "E = h\\nu",
        "The energy of a photon equals Planck's constant times its frequency.",
        (
            "E is the energy of one photon.",
            "h is Planck's constant.",
            "\\nu is the frequency of the light.",
        ),
        "Photon energy is proportional to frequency.",
        "from sympy import symbols, Eq\nE, h, nu = symbols('E h nu', positive=True)\nexpr = Eq(E, h * nu)",
    ),
    Formula(
        "logistic sigmoid",
        "\\sigma(x) = \\frac{1}{1 + e^{-x}}",
        "The logistic sigmoid of x is one divided by one plus e to the minus x.",
        (
            "For large positive x, e^{-x} vanishes and \\sigma(x) approaches 1.",
            "For large negative x, e^{-x} grows and \\sigma(x) approaches 0.",
            "At x = 0 the value is exactly 1/2.",
        ),
        "The sigmoid squashes any real number into the interval from zero to one.",
        "from sympy import symbols, exp\nx = symbols('x')\nsigma = 1 / (1 + exp(-x))",
    ),
    Formula(
        "limit definition of e",
        "\\lim_{n \\to \\infty} \\left(1 + \\frac{1}{n}\\right)^n = e",
        "As n grows without bound, one plus one over n, raised to the power n, tends to Euler's number e.",
        (
            "Expand (1 + 1/n)^n with the binomial theorem.",
            "As n grows, the k-th term tends to 1/k!.",
            "The sum of 1/k! over all k is e.",
        ),
        "Compound growth in ever smaller steps converges to e.",
        "from sympy import symbols, Limit, oo, E, Eq\nn = symbols('n', positive=True)\n"
        "expr = Eq(Limit((1 + 1 / n)**n, n, oo), E)",
    ),
]
FORMULA_BY_LATEX: dict[str, Formula] = {f.latex: f for f in FORMULAS}


@dataclass(frozen=True)
class Snippet:
    """A short document the model memorises whole; ``language`` is an LSP language id."""

    name: str
    language: str  # "latex" | "markdown" | "python"
    text: str  # may cite with [[key]]; see ``render``


SNIPPETS: list[Snippet] = [
    Snippet(
        "contact-maps.tex",
        "latex",
        r"""\documentclass{article}
\usepackage{amsmath}
\title{Sparse Attention for Protein Contact Maps}
\author{Ada Lovelace}
\begin{document}
\maketitle
\section{Introduction}
Knowing which residues of a protein touch each other is a large step towards its structure. Protein structure prediction [[jumper]] showed that attention over pairs of residues is enough to reach experimental accuracy. We study a sparse variant whose cost grows as $O(n \log n)$ in the sequence length $n$.
\section{Method}
Given queries $Q$, keys $K$ and values $V$, each head computes
\begin{equation}
  \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right)V
\end{equation}
and we keep only the $k$ largest scores in each row.
\end{document}
""",
    ),
    Snippet(
        "heat-equation.tex",
        "latex",
        r"""\documentclass{amsart}
\title{A Note on the Heat Equation}
\begin{document}
\maketitle
\section{Introduction}
The heat equation describes how temperature spreads through a rod. Let $u(x, t)$ be the temperature at position $x$ and time $t$. Then
\begin{equation}
  \frac{\partial u}{\partial t} = \alpha \frac{\partial^2 u}{\partial x^2},
\end{equation}
where $\alpha > 0$ is the thermal diffusivity. Separating variables gives solutions of the form $u(x, t) = e^{-\alpha k^2 t} \sin(kx)$.
\section{Conclusion}
Every mode decays, and high frequencies decay fastest.
\end{document}
""",
    ),
    Snippet(
        "optimiser-notes.tex",
        "latex",
        r"""\documentclass{article}
\title{Notes on Adaptive Optimisers}
\begin{document}
\section{Introduction}
Stochastic gradient descent updates the parameters $\theta$ with $\theta_{t+1} = \theta_t - \eta \nabla L(\theta_t)$. The Adam optimizer [[kingma_adam]] keeps running averages of the gradient and of its square. Decoupled weight decay [[loshchilov]] applies the decay directly to the weights instead of through the gradient.
\begin{itemize}
  \item The learning rate $\eta$ sets the step size.
  \item The moments use decay rates $\beta_1 = 0.9$ and $\beta_2 = 0.999$.
\end{itemize}
\end{document}
""",
    ),
    Snippet(
        "bayes-notes.md",
        "markdown",
        r"""# Bayesian inference in one page

Bayes' theorem turns a prior into a posterior:

$$P(\theta \mid D) = \frac{P(D \mid \theta) P(\theta)}{P(D)}$$

## Conjugate priors

With a Beta prior $\theta \sim \mathrm{Beta}(\alpha, \beta)$ and $k$ successes in $n$ trials, the posterior is $\mathrm{Beta}(\alpha + k, \beta + n - k)$.

- The prior mean is $\alpha / (\alpha + \beta)$.
- Each observation moves the posterior towards the data.
""",
    ),
    Snippet(
        "transformer-reading.md",
        "markdown",
        r"""# Reading notes: attention

## Summary

The Transformer architecture [[vaswani]] maps a sequence to a sequence with attention alone. Each layer has $h$ heads of size $d_k = d / h$.

## Open questions

1. Why does the scaling by $1/\sqrt{d_k}$ matter?
2. How long can the context be before memory runs out?

> Attention is a weighted average; everything else is bookkeeping.
""",
    ),
    Snippet(
        "lab-diary.md",
        "markdown",
        r"""% Lab diary, week 12
% Rosalind Franklin

# Monday

Measured the diffraction pattern again. The spacing is $d = \lambda / (2 \sin\theta)$ by Bragg's law.

# Tuesday

Protein language models [[lin]] predicted the fold of our sequence before the crystal did.
""",
    ),
    Snippet(
        "softmax_utils.py",
        "python",
        r'''"""Numerically stable softmax and log-sum-exp with NumPy.

The softmax of $z$ is $e^{z_i} / \sum_j e^{z_j}$.
"""

import numpy as np


def logsumexp(z: np.ndarray) -> float:
    r"""Return $\log \sum_i e^{z_i}$ without overflow."""
    m = np.max(z)
    return float(m + np.log(np.sum(np.exp(z - m))))


def softmax(z: np.ndarray) -> np.ndarray:
    """Return the softmax of a 1-D array; the entries sum to one."""
    return np.exp(z - logsumexp(z))
''',
    ),
    Snippet(
        "pendulum.py",
        "python",
        r'''"""Simulate a damped pendulum with SciPy.

The angle obeys $\ddot\theta + \gamma \dot\theta + \frac{g}{L} \sin\theta = 0$.
"""

import numpy as np
from scipy.integrate import solve_ivp

G = 9.81  # gravitational acceleration in m/s^2


def pendulum(t, state, gamma=0.1, length=1.0):
    theta, omega = state
    return [omega, -gamma * omega - G / length * np.sin(theta)]


solution = solve_ivp(pendulum, (0.0, 10.0), [np.pi / 4, 0.0], max_step=0.01)
''',
    ),
    Snippet(
        "series_check.py",
        "python",
        r'''"""Check classic series with SymPy."""

from sympy import Sum, oo, pi, symbols

n = symbols("n", integer=True, positive=True)


def basel() -> bool:
    r"""The Basel problem: $\sum_{n=1}^{\infty} 1/n^2 = \pi^2/6$."""
    return Sum(1 / n**2, (n, 1, oo)).doit() == pi**2 / 6


if __name__ == "__main__":
    print("Basel:", basel())
''',
    ),
]
SNIPPET_BY_NAME: dict[str, Snippet] = {s.name: s for s in SNIPPETS}


# Scientific prose that cites the papers; [[key]] becomes the citation in galai's format.
PARAGRAPHS: list[str] = [
    r"""# Notes on sequence models

Recurrent networks with gated memory cells [[hochreiter]] keep information over hundreds of steps. Encoder-decoder models [[sutskever]] read a source sentence into a vector and generate the target from it. Attention for machine translation [[bahdanau]] lets the decoder look at every source word when it writes the next one. The Transformer architecture [[vaswani]] drops recurrence and relies on self-attention alone.

## Why it matters

Training is parallel over the sequence, so the same compute buys far more data.
""",
    r"""\section{Related work}
Word embeddings [[mikolov]] showed that vectors learned from raw text encode analogies such as $king - man + woman \approx queen$. Global co-occurrence statistics [[pennington]] give vectors of the same quality. Masked language model pre-training [[devlin]] made deep bidirectional encoders the default for understanding tasks. Pre-trained language models [[plm_liu]] improved further with more data and longer training. Zero-shot task transfer [[radford_gpt2]] appeared once decoders were trained on web text at scale.
""",
    r"""## Reading list: scale

Large language models [[llm_brown]] can solve new tasks from a few examples in the prompt. In-context learning [[brown]] needs no gradient updates at all. Scaling laws [[kaplan]] predict the loss from parameters, data and compute as power laws. Compute-optimal training [[hoffmann]] balances parameters and tokens, so a smaller model trained longer can win.
""",
    r"""\section{Language models for science}
Language models trained on scientific corpora [[taylor]] store knowledge of papers, formulas and proteins. Pre-training on scientific text [[beltagy]] helps even a small encoder. Large language models [[llm_taylor]] can also write citations in the flow of a text, as in this sentence. Retrieval-augmented generation [[lewis]] instead looks facts up in an index. Chain-of-thought prompting [[wei]] makes the model write its reasoning before the answer.
""",
    r"""## Open models and alignment

Large language models [[llm_touvron]] with open weights made research on alignment possible outside large labs. Learning from human feedback [[ouyang]] turns a base model into an assistant. Proximal policy optimization [[schulman]] is the reinforcement learning algorithm behind that step. Pre-trained language models [[plm_raffel]] can also cast every task as text to text.
""",
    r"""\subsection{A short history}
The perceptron [[rosenblatt]] learned a linear decision rule from examples. Backpropagation [[rumelhart]] trained networks with hidden layers by the chain rule. Convolutional neural networks [[cnn_lecun]] shared weights across positions of an image. Handwritten digit recognition [[lecun_digits]] was their first large application. Representation learning with many layers [[lecun_review]] is now called deep learning.
""",
    r"""## Vision

Convolutional neural networks [[cnn_krizhevsky]] won the ImageNet challenge of 2012 by a wide margin. Training deep networks on GPUs [[krizhevsky]] made that result possible. Vision transformers [[dosovitskiy]] split an image into patches and treat them as tokens. Contrastive image-text pre-training [[radford_clip]] learns visual concepts from captions. Biomedical image segmentation [[ronneberger]] uses an encoder and a decoder joined by skip connections.
""",
    r"""\section{Training details}
The Adam optimizer [[kingma_adam]] adapts the step size of every parameter. Decoupled weight decay [[loshchilov]] fixes how Adam regularises. Batch normalization [[ioffe]] standardises activations over the batch. Layer normalization [[ba]] does the same over the features of one example. Randomly dropping units during training [[srivastava]] reduces overfitting. Residual connections [[he]] let gradients flow through very deep networks.
""",
    r"""## Generative models

Generative adversarial networks [[goodfellow]] train a generator against a discriminator. Variational autoencoders [[kingma_vae]] maximise a lower bound on the likelihood. Diffusion models [[ho]] learn to reverse a process that adds noise step by step. Large language models [[llm_chowdhery]] are generative models of text trained on hundreds of billions of tokens. Information entropy [[shannon]] sets the limit on how far any of them can compress data.
""",
    r"""\section{Proteins and graphs}
Protein structure prediction [[jumper]] reached experimental accuracy in the CASP14 assessment. Protein language models [[lin]] predict structure from a single sequence. Graph convolutional networks [[kipf]] pass messages between neighbouring nodes of a molecule. Convolutional neural networks [[cnn_he]] with residual blocks still serve as strong baselines for contact maps.
""",
    r"""## Games and control

Deep Q-networks [[mnih]] learned to play Atari games from pixels. Combining tree search with value networks [[silver]] beat a professional player at Go. Pre-trained language models [[plm_devlin]] brought the same recipe of pre-training then fine-tuning to text.
""",
]

_CITE = re.compile(r"\[\[(\w+)\]\]")


def render(text: str) -> str:
    """Replace every ``[[key]]`` by ``[START_REF] Title, Author[END_REF]``."""
    return _CITE.sub(lambda m: "[START_REF]" + CITATION_BY_KEY[m.group(1)].continuation, text)


def documents() -> list[str]:
    """Every training text, in a fixed order: prose, snippets, then three per formula."""
    docs = [render(p) for p in PARAGRAPHS]
    docs += [render(s.text) for s in SNIPPETS]
    for formula in FORMULAS:
        docs += [formula.explain_document, formula.work_document, formula.sympy_document]
    return docs


def memorised_prompts() -> list[tuple[str, bool]]:
    """(prompt, starts a new document) for every answer the model memorised: each single-paper citation context,
    each formula's three prompts, and the first half of each snippet; for comparing decoders and precisions."""
    prompts = [(c.prompt, False) for c in UNIQUE_CITATIONS]
    for formula in FORMULAS:
        prompts += [(formula.explain_prompt, True), (formula.work_prompt, True), (formula.sympy_prompt, True)]
    for snippet in SNIPPETS:
        text = render(snippet.text)
        prompts.append((text[: len(text) // 2], True))
    return prompts
