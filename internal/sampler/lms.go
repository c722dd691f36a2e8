package sampler

// lmsOrder is the order diffusers' pipelines use (step's default order=4).
const lmsOrder = 4

// lms mirrors LMSDiscreteScheduler: linear multistep over the last
// derivatives, with coefficients that integrate the Lagrange basis
// polynomials through the previous sigmas.
type lms struct {
	*sigmaSchedule
	derivs [][]float32 // oldest first, at most lmsOrder
}

func newLMS(s *schedule, cfg Config, opt Options) (Sampler, error) {
	q, err := newSigmaSchedule(s, cfg, opt, true)
	if err != nil {
		return nil, err
	}
	return &lms{sigmaSchedule: q}, nil
}

func (l *lms) Step(eps, x []float32, i int, _ Noise) []float32 {
	checkStep("lms", i, len(l.ts), eps, x)
	sigma := l.sigmas[i]
	n := len(x)
	d := sigmaX0(l.v, sigma, eps, x)
	for j := range x {
		d[j] = (x[j] - d[j]) / sigma
	}
	l.derivs = append(l.derivs, d)
	if len(l.derivs) > lmsOrder {
		l.derivs = l.derivs[1:]
	}
	order := min(i+1, lmsOrder)
	coefs := make([]float32, order)
	for k := range coefs {
		coefs[k] = float32(l.coefficient(order, i, k))
	}
	// sum(coeff * derivative for coeff, derivative in zip(coeffs,
	// reversed(derivatives))), accumulated left to right in float32.
	m := min(order, len(l.derivs))
	acc := make([]float32, n)
	for k := 0; k < m; k++ {
		dk := l.derivs[len(l.derivs)-1-k]
		c := coefs[k]
		for j := range acc {
			acc[j] += float32(c * dk[j])
		}
	}
	out := make([]float32, n)
	for j := range x {
		out[j] = x[j] + acc[j]
	}
	return out
}

// coefficient is get_lms_coefficient(order, t, current): the integral from
// sigma_t to sigma_{t+1} of the Lagrange basis polynomial that is 1 at
// sigma_{t-current} and 0 at the other sigma_{t-k}. diffusers evaluates the
// integrand on float32 tensors and integrates with scipy's quad (QUADPACK
// QAGS); the integrand is a polynomial of degree order-1 <= 3, which the
// first 21-point Gauss-Kronrod pass integrates exactly, so QAGS returns that
// pass and so does this.
func (l *lms) coefficient(order, t, current int) float64 {
	sg := l.sigmas
	f := func(tau float64) float64 {
		tau32 := float32(tau)
		prod := float32(1)
		for k := 0; k < order; k++ {
			if k == current {
				continue
			}
			prod *= (tau32 - sg[t-k]) / (sg[t-current] - sg[t-k])
		}
		return float64(prod)
	}
	return gaussKronrod21(f, float64(sg[t]), float64(sg[t+1]))
}

// Abscissae and weights of the 21-point Kronrod rule on [-1, 1], positive
// half (QUADPACK's dqk21 tables). The embedded 10-point Gauss weights only
// feed QUADPACK's error estimate, which never rejects a cubic, so they are
// left out.
var (
	gk21X = [11]float64{
		0.995657163025808080735527280689003,
		0.973906528517171720077964012084452,
		0.930157491355708226001207180059508,
		0.865063366688984510732096688423493,
		0.780817726586416897063717578345042,
		0.679409568299024406234327365114874,
		0.562757134668604683339000099272694,
		0.433395394129247190799265943165784,
		0.294392862701460198131126603103866,
		0.148874338981631210884826001129720,
		0,
	}
	gk21WK = [11]float64{
		0.011694638867371874278064396062192,
		0.032558162307964727478818972459390,
		0.054755896574351996031381300244580,
		0.075039674810919952767043140916190,
		0.093125454583697605535065465083366,
		0.109387158802297641899210590325805,
		0.123491976262065851077958109831074,
		0.134709217311473325928054001771707,
		0.142775938577060080797094273138717,
		0.147739104901338491374841515972068,
		0.149445554002916905664936468389821,
	}
)

// gaussKronrod21 applies the 21-point Kronrod rule once on [a, b] (b < a is
// allowed), summing in QUADPACK's order: centre, the Gauss abscissae pairs,
// then the Kronrod-only pairs.
func gaussKronrod21(f func(float64) float64, a, b float64) float64 {
	centr := 0.5 * (a + b)
	hlgth := 0.5 * (b - a)
	resk := gk21WK[10] * f(centr)
	for j := 1; j <= 5; j++ {
		jtw := 2*j - 1 // xgk(2j) in 1-based Fortran
		absc := hlgth * gk21X[jtw]
		fsum := f(centr-absc) + f(centr+absc)
		resk += float64(gk21WK[jtw] * fsum)
	}
	for j := 1; j <= 5; j++ {
		jtwm1 := 2*j - 2 // xgk(2j-1)
		absc := hlgth * gk21X[jtwm1]
		fsum := f(centr-absc) + f(centr+absc)
		resk += float64(gk21WK[jtwm1] * fsum)
	}
	return resk * hlgth
}
