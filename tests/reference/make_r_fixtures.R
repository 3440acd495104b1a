# Reference results from R for gutskin's trial statistics (issue 21).
#
# Writes, for each synthetic data set, the data (CSV, long format) and R's estimates,
# standard errors, degrees of freedom, confidence intervals and p-values (JSON) into
# tests/reference/fixtures/.  tests/trial/test_statistics_against_r.py compares gutskin
# with them.  Regenerate with `make r-fixtures` (Debian: r-base-core, r-cran-nlme,
# r-cran-mass, r-cran-numderiv, r-cran-jsonlite).
#
# Methods and the R call each is held to:
#   ancova     lm(change ~ arm + baseline)
#   negbin     MASS::glm.nb(count ~ arm + log(baseline + 1)); model-based SE from the
#              observed information of the full NB2 likelihood (mean parameters and
#              dispersion, numDeriv::hessian), robust SE = HC0 sandwich of that
#              likelihood times sqrt(n / (n - k)), t(n - k)
#   mmrm       nlme::gls(change ~ 0 + visit + visit:arm + visit:baseline,
#              corSymm + varIdent, REML); Satterthwaite df 2 phi^2 / (g' A g) with phi the
#              variance of the contrast, g its gradient in the covariance parameters and
#              A the inverse of half the Hessian of -2 REML log-likelihood (numDeriv, in a
#              Cholesky parametrisation of the covariance; df does not depend on it)
#   responder  risk difference; Newcombe hybrid score interval from Wilson intervals
#              (prop.test(correct = FALSE)); score test with the N / (N - 1) correction
#   rubin      Rubin's rules with the Barnard-Rubin df on fixed estimates and variances
suppressMessages({
  library(nlme)
  library(MASS)
  library(numDeriv)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args)) args[1] else "tests/reference/fixtures"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

weeks <- c(0, 4, 8, 12)

make_data <- function(seed, n_per_arm, sds, rho, dropout, effect) {
  set.seed(seed)
  n <- 2 * n_per_arm
  arm <- rep(c("C", "T"), each = n_per_arm)
  k <- length(weeks)
  corr <- outer(seq_len(k), seq_len(k), function(a, b) rho^abs(a - b))
  sigma <- corr * outer(sds, sds)
  e <- matrix(rnorm(n * k), n, k) %*% chol(sigma)
  trt <- as.numeric(arm == "T")
  mu <- outer(rep(30, n), c(0, -3, -5, -6)) + outer(trt, effect * c(0, 0.4, 0.8, 1))
  y <- mu + e
  y[, 1] <- y[, 1] + 0  # baseline visit
  last <- rep(k, n)
  if (dropout > 0) {
    for (i in seq_len(n)) {
      for (j in 2:k) if (runif(1) < dropout) { last[i] <- j - 1; break }
    }
  }
  count_mu <- exp(log(18) + 0.8 * (log1p(round(pmax(y[, 1], 0))) - log(31)))
  rows <- list()
  for (i in seq_len(n)) {
    c0 <- rnbinom(1, size = 4, mu = 20)
    for (j in seq_len(k)) {
      if (j > last[i]) next
      mj <- if (j == 1) NA else exp(log(c0 + 1) * 0.7 + 1.0 - 0.25 * trt[i] * (j - 1) / 3)
      cnt <- if (j == 1) c0 else rnbinom(1, size = 3, mu = mj)
      resp <- if (j == 1) NA else as.numeric(runif(1) < plogis(-0.4 + 0.7 * trt[i] + 0.1 * j))
      rows[[length(rows) + 1]] <- data.frame(
        patient = i, arm = arm[i], visit_week = weeks[j], y = y[i, j], count = cnt, resp = resp
      )
    }
  }
  do.call(rbind, rows)
}

wide_at <- function(d, col, week) {
  b <- d[d$visit_week == 0, c("patient", "arm", col)]
  v <- d[d$visit_week == week, c("patient", col)]
  names(b)[3] <- "base"
  names(v)[2] <- "val"
  merge(b, v, by = "patient")
}

ancova <- function(d, week) {
  w <- wide_at(d, "y", week)
  w$arm <- factor(w$arm, levels = c("C", "T"))
  f <- lm(I(val - base) ~ arm + base, data = w)
  s <- summary(f)$coefficients
  ci <- confint(f)["armT", ]
  list(estimate = s["armT", 1], se = s["armT", 2], df = f$df.residual,
       ci_low = ci[[1]], ci_high = ci[[2]], p_value = s["armT", 4])
}

nb2_loglik_obs <- function(par, y, X) {
  k <- ncol(X)
  mu <- exp(drop(X %*% par[1:k]))
  a <- exp(par[k + 1])  # alpha = 1 / theta, on the log scale for the optimiser
  size <- 1 / a
  dnbinom(y, size = size, mu = mu, log = TRUE)
}

negbin <- function(d, week) {
  w <- wide_at(d, "count", week)
  w$arm <- factor(w$arm, levels = c("C", "T"))
  f <- glm.nb(val ~ arm + log(base + 1), data = w, control = glm.control(epsilon = 1e-12, maxit = 100))
  X <- model.matrix(f)
  y <- w$val
  # full-likelihood information in (beta, alpha) with alpha = 1 / theta (statsmodels' NB2)
  ll <- function(p) sum(nb2_loglik_obs(c(p[1:ncol(X)], log(p[ncol(X) + 1])), y, X))
  par <- c(coef(f), 1 / f$theta)
  H <- numDeriv::hessian(ll, par)
  Vm <- solve(-H)
  sc <- numDeriv::jacobian(function(p) nb2_loglik_obs(c(p[1:ncol(X)], log(p[ncol(X) + 1])), y, X), par)
  meat <- crossprod(sc)
  Vr <- Vm %*% meat %*% Vm
  n <- nrow(X)
  k <- length(par)
  b <- coef(f)[["armT"]]
  se_m <- sqrt(Vm[2, 2])
  se_r <- sqrt(Vr[2, 2]) * sqrt(n / (n - k))
  tq <- qt(0.975, n - k)
  list(
    log_rate_ratio = b, theta = f$theta,
    model = list(se = se_m, ci_low = exp(b - qnorm(0.975) * se_m), ci_high = exp(b + qnorm(0.975) * se_m),
                 p_value = 2 * pnorm(-abs(b / se_m)), glm_nb_se = summary(f)$coefficients["armT", 2]),
    robust = list(se = se_r, df = n - k, ci_low = exp(b - tq * se_r), ci_high = exp(b + tq * se_r),
                  p_value = 2 * pt(-abs(b / se_r), n - k))
  )
}

mmrm_ref <- function(d, target_week) {
  b <- d[d$visit_week == 0, c("patient", "y")]
  names(b)[2] <- "base"
  p <- merge(d[d$visit_week > 0, c("patient", "arm", "visit_week", "y")], b, by = "patient")
  p$change <- p$y - p$base
  p$visit <- factor(p$visit_week)
  p$arm <- factor(p$arm, levels = c("C", "T"))
  p$vnum <- as.integer(p$visit)
  p <- p[order(p$patient, p$vnum), ]
  f <- gls(change ~ 0 + visit + visit:arm + visit:base, data = p,
           correlation = corSymm(form = ~ vnum | patient), weights = varIdent(form = ~ 1 | visit),
           method = "REML",
           control = glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000))
  X <- model.matrix(~ 0 + visit + visit:arm + visit:base, data = p)
  kv <- nlevels(p$visit)
  # the fitted covariance of a patient observed at every visit
  full_id <- names(which(table(p$patient) == kv))[1]
  S <- matrix(as.numeric(getVarCov(f, individual = full_id)), kv, kv)
  L <- t(chol(S))
  tri <- lower.tri(L, diag = TRUE)
  theta0 <- L[tri]
  dpos <- which(row(L)[tri] == col(L)[tri])
  theta0[dpos] <- log(theta0[dpos])
  sigma_of <- function(th) {
    M <- matrix(0, kv, kv)
    th2 <- th
    th2[dpos] <- exp(th2[dpos])
    M[tri] <- th2
    M %*% t(M)
  }
  by_pat <- split(seq_len(nrow(p)), p$patient)
  pieces <- function(th) {
    S <- sigma_of(th)
    XtX <- matrix(0, ncol(X), ncol(X))
    Xty <- rep(0, ncol(X))
    yty <- 0
    ld <- 0
    for (r in by_pat) {
      o <- p$vnum[r]
      Vi <- S[o, o, drop = FALSE]
      Vinv <- solve(Vi)
      Xi <- X[r, , drop = FALSE]
      yi <- p$change[r]
      XtX <- XtX + t(Xi) %*% Vinv %*% Xi
      Xty <- Xty + t(Xi) %*% Vinv %*% yi
      yty <- yty + drop(t(yi) %*% Vinv %*% yi)
      ld <- ld + determinant(Vi, logarithm = TRUE)$modulus
    }
    list(XtX = XtX, Xty = Xty, yty = yty, ld = ld)
  }
  reml2 <- function(th) {
    q <- pieces(th)
    beta <- solve(q$XtX, q$Xty)
    q$ld + determinant(q$XtX, logarithm = TRUE)$modulus + q$yty - sum(q$Xty * beta)
  }
  cname <- paste0("visit", target_week, ":armT")
  cvec <- as.numeric(colnames(X) == cname)
  phi <- function(th) drop(t(cvec) %*% solve(pieces(th)$XtX) %*% cvec)
  H <- numDeriv::hessian(reml2, theta0)
  A <- 2 * solve(H)
  g <- numDeriv::grad(phi, theta0)
  v <- phi(theta0)
  df <- 2 * v^2 / drop(t(g) %*% A %*% g)
  est <- coef(f)[[cname]]
  se <- sqrt(vcov(f)[cname, cname])
  tq <- qt(0.975, df)
  list(estimate = est, se = se, df = df, ci_low = est - tq * se, ci_high = est + tq * se,
       p_value = 2 * pt(-abs(est / se), df), reml_loglik = as.numeric(logLik(f)),
       sigma = matrix(as.numeric(S), kv, kv))
}

responder <- function(d, week) {
  v <- d[d$visit_week == week & !is.na(d$resp), ]
  x1 <- sum(v$resp[v$arm == "T"]); n1 <- sum(v$arm == "T")
  x0 <- sum(v$resp[v$arm == "C"]); n0 <- sum(v$arm == "C")
  p1 <- x1 / n1; p0 <- x0 / n0
  w1 <- suppressWarnings(prop.test(x1, n1, correct = FALSE))$conf.int
  w0 <- suppressWarnings(prop.test(x0, n0, correct = FALSE))$conf.int
  rd <- p1 - p0
  lo <- rd - sqrt((p1 - w1[1])^2 + (w0[2] - p0)^2)
  hi <- rd + sqrt((w1[2] - p1)^2 + (p0 - w0[1])^2)
  pp <- (x1 + x0) / (n1 + n0)
  N <- n1 + n0
  z <- rd / sqrt(pp * (1 - pp) * (1 / n1 + 1 / n0) * N / (N - 1))
  list(estimate = rd, ci_low = lo, ci_high = hi, p_value = 2 * pnorm(-abs(z)),
       x1 = x1, n1 = n1, x0 = x0, n0 = n0)
}

rubin <- function(q, u, df_complete) {
  m <- length(q)
  qbar <- mean(q); ubar <- mean(u); b <- var(q)
  t <- ubar + (1 + 1 / m) * b
  lam <- (1 + 1 / m) * b / t
  df_old <- (m - 1) / lam^2
  df_obs <- (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
  df <- df_old * df_obs / (df_old + df_obs)
  tq <- qt(0.975, df)
  list(estimate = qbar, se = sqrt(t), df = df, ci_low = qbar - tq * sqrt(t),
       ci_high = qbar + tq * sqrt(t), p_value = 2 * pt(-abs(qbar / sqrt(t)), df), fmi = lam)
}

sets <- list(
  balanced = list(seed = 11, n = 40, sds = c(6, 6, 6, 6), rho = 0.6, dropout = 0, effect = -3),
  dropout = list(seed = 12, n = 50, sds = c(6, 6, 7, 7), rho = 0.5, dropout = 0.12, effect = -2),
  heterogeneous = list(seed = 13, n = 45, sds = c(5, 7, 10, 14), rho = 0.7, dropout = 0.1, effect = -4),
  small = list(seed = 14, n = 8, sds = c(6, 6, 8, 8), rho = 0.5, dropout = 0.08, effect = -3)
)

results <- list()
for (nm in names(sets)) {
  s <- sets[[nm]]
  d <- make_data(s$seed, s$n, s$sds, s$rho, s$dropout, s$effect)
  write.csv(d, file.path(out_dir, paste0(nm, ".csv")), row.names = FALSE)
  results[[nm]] <- list(
    ancova = ancova(d, 12),
    negbin = negbin(d, 12),
    mmrm = mmrm_ref(d, 12),
    mmrm_week8 = mmrm_ref(d, 8),
    responder = responder(d, 12)
  )
}
q <- c(-2.1, -1.7, -2.6, -1.9, -2.3)
u <- c(0.81, 0.77, 0.92, 0.85, 0.80)
results$rubin <- list(estimates = q, variances = u, df_complete = 57,
                      pooled = rubin(q, u, 57))
results$r_version <- R.version.string
writeLines(toJSON(results, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "r_results.json"))
