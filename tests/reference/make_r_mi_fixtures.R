# R's side of the multiple-imputation responder check (issue 29).
#
# Run by `make r-fixtures` after make_r_fixtures.R (the data sets) and
# make_mi_fixtures.py (gutskin's completed data sets).  Writes r_mi_results.json:
#   pooled     for each imputation the risk difference (T - C) of the week-12 responder
#              and its Wald variance p1 (1 - p1) / n1 + p0 (1 - p0) / n0, pooled with
#              mice::pool.scalar(n = Inf) (Rubin's rules, Barnard-Rubin df with an
#              infinite complete-data df); t interval and test with that df
#   logreg     the imputation model of mice.impute.logreg for the week-4 responder in
#              each arm, baseline y as the predictor: glm.fit(quasibinomial) on
#              mice:::augment's data; coefficients and cov.unscaled
suppressMessages({
  library(mice)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args)) args[1] else "tests/reference/fixtures"

pooled <- function(imp) {
  per <- lapply(split(imp, imp$imputation), function(d) {
    t1 <- d$resp[d$treated == 1]; t0 <- d$resp[d$treated == 0]
    p1 <- mean(t1); p0 <- mean(t0)
    c(q = p1 - p0, u = p1 * (1 - p1) / length(t1) + p0 * (1 - p0) / length(t0))
  })
  per <- do.call(rbind, per)
  pl <- pool.scalar(per[, "q"], per[, "u"], n = Inf)
  se <- sqrt(pl$t)
  tq <- qt(0.975, pl$df)
  list(estimate = pl$qbar, se = se, df = pl$df, ci_low = pl$qbar - tq * se,
       ci_high = pl$qbar + tq * se, p_value = 2 * pt(-abs(pl$qbar / se), pl$df))
}

logreg_model <- function(d, arm) {
  base <- d[d$visit_week == 0 & d$arm == arm, c("patient", "y")]
  wk <- d[d$visit_week == 4 & d$arm == arm, c("patient", "resp")]
  m <- merge(base, wk, by = "patient", all.x = TRUE)
  y <- m$resp
  ry <- !is.na(y)
  x <- data.frame(severity = m$y)
  aug <- mice:::augment(y, ry, x, !ry)
  X <- cbind(1, as.matrix(aug$x))
  fit <- glm.fit(X[aug$ry, , drop = FALSE], aug$y[aug$ry], family = quasibinomial(link = logit),
                 weights = aug$w[aug$ry], control = glm.control(epsilon = 1e-14, maxit = 100))
  list(coefficients = unname(coef(fit)), cov_unscaled = unname(summary.glm(fit)$cov.unscaled),
       n_missing = sum(!ry))
}

results <- list()
for (nm in c("dropout", "heterogeneous")) {
  d <- read.csv(file.path(out_dir, paste0(nm, ".csv")))
  imp <- read.csv(file.path(out_dir, paste0("mi_responder_", nm, ".csv")))
  results[[nm]] <- list(
    pooled = pooled(imp),
    logreg = list(C = logreg_model(d, "C"), T = logreg_model(d, "T"))
  )
}
results$mice_version <- as.character(packageVersion("mice"))
results$r_version <- R.version.string
writeLines(toJSON(results, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "r_mi_results.json"))
