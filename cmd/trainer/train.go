package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/comm"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/evaluation"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/report"
)

// Files a training run writes into its -out folder.
const (
	ckptFile    = "checkpoint.safetensors"
	bestFile    = "best.safetensors" // the checkpoint with the lowest Fréchet distance so far
	lossCSV     = "losses.csv"
	lossPlot    = "losses.png"
	qualityCSV  = "quality.csv"
	qualityPlot = "quality.png"
	samplesDir  = "samples"
	runPageFile = "index.html"         // the run page
	skippedFile = "skipped-images.txt" // image files -skip-bad-images skipped, one error per line
	gridImages  = 64                   // images in a sample grid
	reconImages = 32                   // images in a reconstruction grid
)

// Metadata keys for the data loader's position in a checkpoint.
const (
	metaEpoch       = "loader.epoch"
	metaBatch       = "loader.batch"
	metaData        = "data"              // the dataset's absolute path ("" for the embedded MNIST)
	metaFingerprint = "data.fingerprint"  // data.Fingerprint of the dataset
	metaBest        = "eval.best_frechet" // the lowest Fréchet distance of the run so far
	metaRanks       = "dist.ranks"        // the number of ranks that wrote the checkpoint
	metaDevice      = "device"            // the backend's name (the GPU's, on CUDA)
	metaTF32        = "device.tf32"       // whether matrix products used TF32 (-tf32 on a GPU that has it)
)

// trainFlags are the flags of "trainer train".
type trainFlags struct {
	arch, modelName, data, optim, out string
	init                              string
	batch, epochs, steps              int
	lr, lrDec, gamma, beta, ema       float64
	margin                            float64
	seed                              uint64
	equilibrium, resume, skipBad      bool
	syncBN                            bool
	sampleEvery, ckptEvery, logEvery  int
	evalEvery, evalN                  int
	workers                           int
	dist                              string        // -dist: auto, single or mpi
	distTimeout                       time.Duration // -dist-timeout
	dev                               deviceFlags
	set                               map[string]bool // the flags given on the command line
}

func train(args []string) error {
	f, err := parseTrainFlags(args)
	if err != nil {
		return err
	}
	c, err := comm.Open(f.dist, f.distTimeout)
	if err != nil {
		return fmt.Errorf("-dist %s: %w", f.dist, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = runTraining(ctx, f, os.Stderr, c)
	if err != nil && c.Size() > 1 {
		// The other ranks may be waiting in a collective for this one: end
		// them all rather than leave them to time out.
		c.Abort(1, fmt.Sprintf("trainer: rank %d of %d: %v", c.Rank(), c.Size(), err))
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// parseTrainFlags parses and checks the flags of trainer train (all but the
// model's configuration, which runTraining checks).
func parseTrainFlags(args []string) (*trainFlags, error) {
	var f trainFlags
	fs := newFlagSet("train", "Trains a model, writing sample grids, a loss CSV and plot, and checkpoints into -out.\n"+
		"With -resume it continues the run in -out exactly where its checkpoint left it.")
	fs.StringVar(&f.arch, "arch", "mnist", "architecture: mnist (1×28×28) or celeba64 (3×64×64)")
	fs.StringVar(&f.modelName, "model", model.VAEGAN, "model: vaegan, vaegan3, vae or gan")
	fs.StringVar(&f.data, "data", "", "dataset: an IDX image file (raw or .gz) or a folder of PNG/JPEG images (default: the embedded MNIST)")
	fs.IntVar(&f.batch, "batch", 64, "batch size")
	fs.IntVar(&f.epochs, "epochs", 4, "epochs to train (ignored when -steps is set); the default 4 (3,748 steps of 64 on MNIST) is the budget docs/quality.md measures")
	fs.IntVar(&f.steps, "steps", 0, "total training steps (0: -epochs decides)")
	fs.StringVar(&f.optim, "optim", "adam", "optimizer: adam (lr 2e-4, β 0.5, 0.999) or rmsprop (lr 3e-4, decay 0.9)")
	fs.Float64Var(&f.lr, "lr", 0, "learning rate (0: the optimizer's default)")
	fs.Float64Var(&f.lrDec, "lr-dec", 0, "the decoder's learning rate (0: the architecture's default for the VAE-GANs,\n8 times -lr's for mnist, -lr's for celeba64; -lr's for vae and gan)")
	fs.Float64Var(&f.gamma, "gamma", 0, "weight γ of L_like in the decoder's loss (0: the architecture's default)")
	fs.Float64Var(&f.beta, "beta", 0, "weight β of L_like in the encoder's loss (0: the architecture's default)")
	fs.StringVar(&f.init, "init", "", "weight initialization: pytorch (PyTorch's layer defaults) or dcgan (N(0, 0.02)) (default: the architecture's)")
	fs.Float64Var(&f.margin, "margin", 0, "the equilibrium rule's margin around 0.68 (0: the default 0.35)")
	fs.Float64Var(&f.ema, "ema", 0, "decay of the moving average of the decoder's weights that sampling uses; 0: none\n(default: the architecture's: none for both)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed (weights, noise, data order)")
	fs.BoolVar(&f.equilibrium, "equilibrium", false, "the equilibrium rule that skips discriminator or decoder updates: -equilibrium=true or =false\n(default: the architecture's: off for mnist, on for celeba64)")
	fs.BoolVar(&f.skipBad, "skip-bad-images", false, "replace image files that fail to load by the next good one, listing them in -out's "+skippedFile+"\n(default: stop at the first, naming it)")
	fs.StringVar(&f.out, "out", "run", "output folder")
	fs.BoolVar(&f.resume, "resume", false, "continue the run whose checkpoint is in -out (its configuration wins over the flags)")
	fs.IntVar(&f.sampleEvery, "sample-every", 500, "write sample and reconstruction grids every N steps")
	fs.IntVar(&f.ckptEvery, "ckpt-every", 500, "write the checkpoint every N steps")
	fs.IntVar(&f.logEvery, "log-every", 10, "log losses to the CSV every N steps")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "measure sample quality every N steps into quality.csv and keep best.safetensors\n(0: four times per run; negative: never)")
	fs.IntVar(&f.evalN, "eval-n", 2000, "prior samples and test reconstructions per evaluation during training")
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "data loading goroutines")
	fs.StringVar(&f.dist, "dist", "auto", "data-parallel group: auto (MPI when mpirun or srun started several processes), single or mpi")
	fs.BoolVar(&f.syncBN, "sync-bn", false, "data-parallel runs: BatchNorm statistics over the global batch (all ranks) instead of each rank's images")
	fs.DurationVar(&f.distTimeout, "dist-timeout", 10*time.Minute, "end a rank whose collective (all-reduce, broadcast) waits longer than this for the others")
	f.dev.register(fs)
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	for _, c := range []struct {
		name string
		v    int
	}{{"-sample-every", f.sampleEvery}, {"-ckpt-every", f.ckptEvery}, {"-log-every", f.logEvery}, {"-workers", f.workers}} {
		if c.v < 1 {
			return nil, fmt.Errorf("%s %d: want a positive number", c.name, c.v)
		}
	}
	if f.evalN < 2 {
		return nil, fmt.Errorf("-eval-n %d: want at least 2", f.evalN)
	}
	if f.distTimeout <= 0 {
		return nil, fmt.Errorf("-dist-timeout %v: want a positive duration", f.distTimeout)
	}
	if f.epochs < 0 || f.steps < 0 {
		return nil, fmt.Errorf("-epochs %d, -steps %d: want non-negative numbers", f.epochs, f.steps)
	}
	return &f, nil
}

// session is one training run's state: of one rank, in a data-parallel run.
type session struct {
	f           *trainFlags
	comm        comm.Comm
	lead        bool   // rank 0, the one that writes every file
	gradients   string // how the ranks average their gradients, for the header
	tf32        bool   // matrix products on TF32 tensor cores
	tr          *model.Trainer
	ds          data.Dataset
	loader      *data.Loader
	log         *report.LossLog
	fixedZ      []float32 // the latent batch of every sample grid
	reconX      []float32 // the images of every reconstruction grid
	dataArg     string    // the dataset's absolute path ("" for the embedded MNIST)
	fingerprint string    // data.Fingerprint of the dataset

	// Evaluation during training (ref is nil when it is off).
	ref       *evaluation.Reference
	qlog      *report.LossLog
	evalEvery int
	best      float64 // lowest Fréchet distance so far (+Inf: none yet)

	// What the run page shows.
	device         string
	total          int
	losses         []report.NamedValue // of the newest step
	samples, recon string              // newest grids, relative to -out
}

// qualityNames are the columns of quality.csv.
var qualityNames = []string{"frechet", "kid", "precision", "recall", "classes", "sharpness", "agreement", "ssim"}

// config is the model configuration the flags ask for, with the
// architecture's defaults where a flag was not given and the model leaves
// the choice to the command (the equilibrium rule, the weight average, the
// VAE-GAN decoder's learning rate).
func (f *trainFlags) config() model.Config {
	cfg := model.Config{Arch: f.arch, Model: f.modelName, Batch: f.batch, Gamma: f.gamma, Beta: f.beta,
		Optim: model.OptimConfig{Kind: f.optim, LR: f.lr, DecLR: f.lrDec}, Init: f.init, EMA: f.ema, Margin: f.margin,
		NoEquilibrium: !f.equilibrium, SyncBN: f.syncBN, Seed: f.seed}
	a, err := model.LookupArch(f.arch)
	if err != nil {
		return cfg // Config.Check names the architecture
	}
	if !f.set["equilibrium"] {
		cfg.NoEquilibrium = !a.Defaults.Equilibrium
	}
	if !f.set["ema"] {
		cfg.EMA = a.Defaults.EMA
	}
	if !f.set["lr-dec"] && (cfg.Model == model.VAEGAN || cfg.Model == model.VAEGAN3) && a.Defaults.DecLRScale != 1 {
		cfg.Optim.DecLR = a.Defaults.DecLRScale * cfg.Optim.LearningRate()
	}
	return cfg
}

// runTraining trains as rank c.Rank() of group c (comm.Single alone). Only
// rank 0 writes files and messages.
func runTraining(ctx context.Context, f *trainFlags, stderr *os.File, c comm.Comm) error {
	lead := c.Rank() == 0
	if c.Size() > 1 && f.dev.ordinal < 0 {
		f.dev.ordinal = comm.LaunchFromEnv().LocalRank // a GPU per process on each machine
	}
	b, err := f.dev.open()
	if err != nil {
		return err
	}
	cfg := f.config()
	ckptPath := filepath.Join(f.out, ckptFile)
	var ckpt *checkpoint.File
	if f.resume {
		if ckpt, err = readCheckpoint(c, ckptPath); err != nil {
			return fmt.Errorf("-resume: %w", err)
		}
		asked := cfg
		if cfg, err = model.ConfigOf(ckpt); err != nil {
			return err
		}
		for _, msg := range ignoredFlags(f.set, asked, cfg) {
			if lead {
				fmt.Fprintln(stderr, msg)
			}
		}
		if !f.set["data"] {
			f.data = ckpt.Meta[metaData]
		}
	} else if err := cfg.Check(); err != nil {
		return flagError(err)
	} else if _, err := os.Stat(ckptPath); err == nil && lead {
		return fmt.Errorf("-out %s already holds a checkpoint: pass -resume to continue that run, or choose another -out", f.out)
	}
	arch, _ := model.LookupArch(cfg.Arch)
	r := &session{f: f, comm: c, lead: lead}
	if r.dataArg, err = absData(f.data); err != nil {
		return err
	}
	if r.ds, err = data.Open(r.dataArg, arch.C, arch.H, arch.W); err != nil {
		if ckpt != nil && !f.set["data"] {
			return fmt.Errorf("-resume: the run's dataset: %w (pass -data with the same dataset where it is now)", err)
		}
		return fmt.Errorf("-data: %w", err)
	}
	if lead {
		unlock, err := prepareRunFolder(f.out, stderr)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if f.skipBad && !lead {
		r.ds = data.SkipBad(r.ds, func(int, error) {}) // rank 0 lists the files it skips
	} else if f.skipBad {
		skipped := &skipLog{path: filepath.Join(f.out, skippedFile)}
		r.ds = data.SkipBad(r.ds, skipped.add)
		defer skipped.report(stderr)
	}
	if r.fingerprint, err = data.Fingerprint(r.ds); err != nil {
		return f.skipHint(err)
	}
	if bad, err := comm.Disagreeing(c, []byte(r.fingerprint), 0); err != nil {
		return err
	} else if len(bad) > 0 {
		return fmt.Errorf("rank(s) %v read another dataset at -data %s than rank 0 (its fingerprint %s)", bad, f.data, r.fingerprint)
	}
	if ckpt != nil && ckpt.Meta[metaFingerprint] != "" && r.fingerprint != ckpt.Meta[metaFingerprint] {
		return fmt.Errorf("-data %s is not the dataset of the run being resumed, %s (%s; the run's: %s)",
			f.data, ckpt.Meta[metaData], r.fingerprint, ckpt.Meta[metaFingerprint])
	}
	if r.tr, err = model.NewDistributedTrainer(b, cfg, c); err != nil {
		return flagError(err)
	}
	if c.Size() > 1 {
		onDevice, how, err := deviceAllReducer(b, c, f.distTimeout)
		if err != nil {
			return err
		}
		if onDevice != nil {
			r.tr.ReduceOnDevice(onDevice)
		}
		r.gradients = how
	}
	var start data.Position
	if ckpt != nil {
		if err := r.tr.Load(ckpt, false); err != nil {
			return err
		}
		if start.Epoch, err = model.MetaInt(ckpt, metaEpoch); err != nil {
			return err
		}
		if start.Batch, err = model.MetaInt(ckpt, metaBatch); err != nil {
			return err
		}
		if was, now := ckpt.Meta[metaDevice]+tf32Note(ckpt.Meta[metaTF32] == "true"), b.Name()+tf32Note(usesTF32(b)); ckpt.Meta[metaDevice] != "" && was != now && lead {
			fmt.Fprintf(stderr, "-resume: the run was on %s and continues on %s: training goes on, but not bit for bit as it would have there (other kernels, summation orders or TF32)\n", was, now)
		}
		if n, err := model.MetaInt(ckpt, metaRanks); err == nil && n != c.Size() && lead {
			fmt.Fprintf(stderr, "-resume: the run was written by %d rank(s) and continues on %d: the same global batch of %d, data order and noise, with BatchNorm statistics over %d images per rank\n",
				n, c.Size(), cfg.Batch, cfg.Batch/c.Size())
		}
	}
	if err := r.tr.Broadcast(); err != nil {
		return err
	}
	perEpoch := r.ds.Len() / cfg.Batch
	if perEpoch == 0 {
		return fmt.Errorf("-data %s holds %d images, fewer than one batch of %d (lower -batch)", r.ds.Name(), r.ds.Len(), cfg.Batch)
	}
	total := f.steps
	if total == 0 {
		total = f.epochs * perEpoch
	}
	var bufs []data.Option
	if h, ok := b.(backend.HostAllocator); ok { // batches decoded into pinned memory, uploaded without a copy
		bufs = append(bufs, data.WithBuffers(h.HostBuffer))
	}
	r.loader = data.NewShardLoader(r.ds, cfg.Batch, data.Shard{Rank: c.Rank(), Size: c.Size()}, cfg.Seed, f.workers, start, bufs...)
	defer r.loader.Close()
	r.device, r.tf32, r.total = b.Name(), usesTF32(b), total
	if !lead {
		if err := r.loop(ctx, total, stderr); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil // stopped with the others; rank 0 saved the run
	}
	if r.log, err = report.OpenLossLog(filepath.Join(f.out, lossCSV), columnNames(lossColumns(cfg.Model)), r.tr.Steps); err != nil {
		return err
	}
	defer r.log.Close()
	r.fixedZ = model.Prior(gridImages, arch.Latent, cfg.Seed+2)
	if cfg.Model != model.GAN {
		if r.reconX, err = data.FirstN(r.ds, min(reconImages, r.ds.Len())); err != nil {
			return f.skipHint(err)
		}
	}
	if err := r.openEval(b, total, ckpt); err != nil {
		return err
	}
	if r.qlog != nil {
		defer r.qlog.Close()
	}

	ranks := ""
	if c.Size() > 1 {
		ranks = fmt.Sprintf(" (global: %d ranks of %d, gradients averaged %s)", c.Size(), cfg.Batch/c.Size(), r.gradients)
	}
	fmt.Fprintf(stderr, "training %s on %s (%d images of %d×%d×%d), device %s%s, batch %d%s, steps %d → %d, output %s\n",
		cfg.Model, r.ds.Name(), r.ds.Len(), arch.C, arch.H, arch.W, b.Name(), f.dev.graphsNote(b, c.Size()), cfg.Batch, ranks, r.tr.Steps, total, f.out)
	err = r.loop(ctx, total, stderr)
	if perr := r.writePage(false); err == nil {
		err = perr
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "\ninterrupted: checkpoint saved at step %d; continue with -resume -out %s\n", r.tr.Steps, f.out)
		return nil
	}
	return err
}

// loop trains up to step total. Rank 0 writes the logs, grids, page and
// checkpoints; the other ranks only train.
func (r *session) loop(ctx context.Context, total int, stderr *os.File) error {
	var prog *report.Progress
	if r.lead {
		prog = report.NewProgress(stderr, total)
		defer prog.Done()
	}
	tr, batchSize := r.tr, r.tr.Cfg.Batch
	cols := lossColumns(tr.Cfg.Model)
	named := make([]report.NamedValue, len(cols))
	values := make([]float64, len(cols))
	last := time.Now()
	for tr.Steps < total {
		stop, err := anyRank(r.comm, ctx.Err() != nil)
		if err != nil {
			return err
		}
		if stop {
			if r.lead {
				if err := r.save(); err != nil {
					return err
				}
			}
			return context.Canceled
		}
		batch, err := r.loader.Next()
		if err != nil {
			return r.f.skipHint(err)
		}
		res, err := tr.Step(batch.Data)
		if err != nil {
			last := filepath.Join(r.f.out, ckptFile)
			if _, statErr := os.Stat(last); statErr != nil {
				return fmt.Errorf("%w; stopped before the first checkpoint", err)
			}
			return fmt.Errorf("%w; stopped, the last good checkpoint is %s", err, last)
		}
		if !r.lead {
			continue
		}
		now := time.Now()
		ips := float64(batchSize) / now.Sub(last).Seconds()
		last = now
		for i, c := range cols {
			values[i] = c.value(res)
			named[i] = report.NamedValue{Name: c.name, Value: values[i]}
		}
		step := tr.Steps
		r.losses = named
		prog.Update(step, batch.Pos.Epoch, named, ips)
		if step%r.f.logEvery == 0 || step == total || step == 1 {
			if err := r.log.Log(step, batch.Pos.Epoch, values, ips); err != nil {
				return err
			}
		}
		if step%r.f.sampleEvery == 0 || step == total {
			if err := r.writeGrids(step); err != nil {
				return err
			}
		}
		if r.ref != nil && (step%r.evalEvery == 0 || step == total) {
			if err := r.evaluate(prog, batch.Pos.Epoch, ips); err != nil {
				return err
			}
		}
		if step%r.f.sampleEvery == 0 || (r.ref != nil && step%r.evalEvery == 0) {
			if err := r.writePage(true); err != nil {
				return err
			}
		}
		if step%r.f.ckptEvery == 0 || step == total {
			if err := r.save(); err != nil {
				return err
			}
		}
	}
	return nil
}

// openEval prepares evaluation during training: the test split matching the
// training data, quality.csv, and the best Fréchet distance of a resumed run.
func (r *session) openEval(b backend.Backend, total int, ckpt *checkpoint.File) error {
	r.best = math.Inf(1)
	if r.f.evalEvery < 0 {
		return nil
	}
	r.evalEvery = r.f.evalEvery
	if r.evalEvery == 0 {
		r.evalEvery = max(total/4, 1)
	}
	a := r.tr.Arch
	refName := evaluation.ReferenceFor(r.dataArg)
	var err error
	if r.ref, err = evaluation.OpenReference(b, refName, a.C, a.H, a.W); err != nil {
		return fmt.Errorf("evaluation during training: %w (pass -eval-every -1 to train without it)", err)
	}
	if ckpt != nil {
		if v, ok := ckpt.Meta[metaBest]; ok {
			if r.best, err = strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("checkpoint %s: metadata %s = %q is not a number", ckpt.Path, metaBest, v)
			}
		}
	}
	r.qlog, err = report.OpenLossLog(filepath.Join(r.f.out, qualityCSV), qualityNames, r.tr.Steps)
	return err
}

// evaluate measures the model on r.f.evalN prior samples (the same latent
// vectors every time) and test reconstructions, logs the figures, and
// writes best.safetensors when the Fréchet distance is the lowest so far.
func (r *session) evaluate(prog *report.Progress, epoch int, ips float64) error {
	tr := r.tr
	rep, err := r.ref.Evaluate(tr, tr.Arch.Latent, r.f.evalN, tr.Cfg.Seed+3, r.f.evalN)
	if err != nil {
		return fmt.Errorf("evaluation at step %d: %w", tr.Steps, err)
	}
	nan := math.NaN()
	v := []float64{nan, nan, nan, nan, nan, rep.Sharpness, nan, nan}
	msg := fmt.Sprintf("eval at step %d (%s, %d samples): sharpness %.3f", tr.Steps, r.ref.Name, rep.Samples, rep.Sharpness)
	if rep.HasClassifier {
		v[0], v[1], v[2], v[3], v[4] = rep.Frechet, rep.KID, rep.Precision, rep.Recall, float64(rep.Covered)
		msg += fmt.Sprintf(", frechet %.2f, kid %.4f, precision %.3f, recall %.3f, classes %d", rep.Frechet, rep.KID, rep.Precision, rep.Recall, rep.Covered)
	}
	if rep.HasRecon {
		v[7] = rep.SSIM
		msg += fmt.Sprintf(", recon ssim %.3f", rep.SSIM)
		if rep.HasClassifier {
			v[6] = rep.Agreement
			msg += fmt.Sprintf(", label agreement %.3f", rep.Agreement)
		}
	}
	if rep.HasClassifier && rep.Frechet < r.best {
		r.best = rep.Frechet
		msg += " (best so far: " + bestFile + ")"
		if err := r.saveTo(filepath.Join(r.f.out, bestFile)); err != nil {
			return err
		}
	}
	prog.Note(msg)
	if err := r.qlog.Log(tr.Steps, epoch, v, ips); err != nil {
		return err
	}
	if err := report.PlotLog(filepath.Join(r.f.out, qualityCSV), filepath.Join(r.f.out, qualityPlot), "Sample quality (classifier features)", "value"); err != nil {
		return err
	}
	return r.plotLosses()
}

// save writes the checkpoint, with the loader's position of the next batch.
func (r *session) save() error { return r.saveTo(filepath.Join(r.f.out, ckptFile)) }

// saveTo writes the run's state to path (resumable: with the loader's
// position and the best Fréchet distance so far).
func (r *session) saveTo(path string) error {
	pos := r.loader.Pos()
	meta := map[string]string{metaEpoch: strconv.Itoa(pos.Epoch), metaBatch: strconv.Itoa(pos.Batch), metaData: r.dataArg,
		metaFingerprint: r.fingerprint, metaRanks: strconv.Itoa(r.comm.Size()), metaDevice: r.device, metaTF32: strconv.FormatBool(r.tf32)}
	if !math.IsInf(r.best, 1) {
		meta[metaBest] = strconv.FormatFloat(r.best, 'g', -1, 64)
	}
	return r.tr.Save(path, meta)
}

// writeGrids writes the sample grid of the fixed latent batch, the
// reconstruction grid and the loss plot.
func (r *session) writeGrids(step int) error {
	a := r.tr.Arch
	x, err := r.tr.Decode(r.fixedZ)
	if err != nil {
		return err
	}
	dir := filepath.Join(r.f.out, samplesDir)
	name := fmt.Sprintf("sample_%06d.png", step)
	if err := report.WriteGrid(filepath.Join(dir, name), x, gridImages, a.C, a.H, a.W, 8); err != nil {
		return err
	}
	r.samples = samplesDir + "/" + name
	if r.reconX != nil {
		rec, err := r.tr.Reconstruct(r.reconX)
		if err != nil {
			return err
		}
		cols := min(8, len(r.reconX)/a.ImageLen())
		both := interleaveRows(r.reconX, rec, a.ImageLen(), cols)
		name := fmt.Sprintf("recon_%06d.png", step)
		if err := report.WriteGrid(filepath.Join(dir, name), both, len(both)/a.ImageLen(), a.C, a.H, a.W, cols); err != nil {
			return err
		}
		r.recon = samplesDir + "/" + name
	}
	return r.plotLosses()
}

// plotLosses draws losses.png, with the quality figures' panels once
// evaluation has run.
func (r *session) plotLosses() error {
	return report.PlotLosses(filepath.Join(r.f.out, lossCSV), filepath.Join(r.f.out, qualityCSV), filepath.Join(r.f.out, lossPlot))
}

// writePage rewrites the run page, index.html in -out: the configuration,
// the progress, the newest grids, the plots, the quality table and the best
// checkpoint (each shown once its file exists). A live page reloads itself.
func (r *session) writePage(live bool) error {
	cfg := r.tr.Cfg
	data := r.dataArg
	if data == "" {
		data = r.ds.Name()
	}
	p := report.RunPage{
		Title: fmt.Sprintf("%s, %s: %s", cfg.Model, cfg.Arch, r.f.out),
		Config: [][2]string{{"model", cfg.Model}, {"architecture", cfg.Arch}, {"data", data},
			{"batch", strconv.Itoa(cfg.Batch)}, {"γ", fmt.Sprint(cfg.Gamma)}, {"β", fmt.Sprint(cfg.Beta)},
			{"initialization", cfg.Init}, {"equilibrium rule", fmt.Sprint(!cfg.NoEquilibrium)},
			{"optimizer", cfg.Optim.Kind}, {"EMA", fmt.Sprint(cfg.EMA)}, {"seed", fmt.Sprint(cfg.Seed)}, {"device", r.device},
			{"ranks", strconv.Itoa(r.comm.Size())}, {"synchronised BatchNorm", fmt.Sprint(cfg.SyncBN)}},
		Step: r.tr.Steps, Total: r.total, Live: live, Losses: r.losses,
		Samples: r.samples, Recon: r.recon, Updated: time.Now(),
	}
	exists := func(name string) string {
		if _, err := os.Stat(filepath.Join(r.f.out, name)); err != nil {
			return ""
		}
		return name
	}
	p.LossPlot, p.QualityPlot, p.Best = exists(lossPlot), exists(qualityPlot), exists(bestFile)
	if exists(qualityCSV) != "" {
		p.QualityCSV = filepath.Join(r.f.out, qualityCSV)
	}
	return report.WriteRunPage(filepath.Join(r.f.out, runPageFile), p)
}

// interleaveRows lays out inputs and their reconstructions (images of size
// floats) for a grid of cols columns: a row of inputs, then the row of their
// reconstructions; a last, partial pair of rows is padded with black images.
func interleaveRows(in, rec []float32, size, cols int) []float32 {
	n := len(in) / size
	rows := (n + cols - 1) / cols
	out := make([]float32, 0, 2*rows*cols*size)
	pad := make([]float32, (cols-n%cols)%cols*size)
	for i := range pad {
		pad[i] = -1
	}
	for i := 0; i < n; i += cols {
		j := min(i+cols, n)
		out = append(out, in[i*size:j*size]...)
		if j == n {
			out = append(out, pad...)
		}
		out = append(out, rec[i*size:j*size]...)
		if j == n {
			out = append(out, pad...)
		}
	}
	return out
}

// lossColumn is one column of the loss log and one label of the progress
// line: its name and how a step's result gives its value.
type lossColumn struct {
	name  string
	value func(model.Result) float64
}

// lossColumns are the columns of a model's losses, in log order.
func lossColumns(m string) []lossColumn {
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	kl := lossColumn{"kl", func(r model.Result) float64 { return r.KL }}
	dis := []lossColumn{
		{"dis", func(r model.Result) float64 { return r.Dis }},
		{"adv", func(r model.Result) float64 { return r.Adv }},
		{"dis_real", func(r model.Result) float64 { return r.DisReal }},
		{"dis_fake", func(r model.Result) float64 { return r.DisFake }},
	}
	switch m {
	case model.VAE:
		return []lossColumn{kl, {"rec", func(r model.Result) float64 { return r.Like }}}
	case model.GAN:
		return dis
	}
	cols := []lossColumn{kl, {"like", func(r model.Result) float64 { return r.Like }}}
	cols = append(cols, dis...)
	return append(cols,
		lossColumn{"upd_dis", func(r model.Result) float64 { return flag(r.UpdateDis) }},
		lossColumn{"upd_dec", func(r model.Result) float64 { return flag(r.UpdateDec) }})
}

// columnNames are the names of cols.
func columnNames(cols []lossColumn) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// configFlags are the flags of trainer train that set each model.Config field.
var configFlags = map[string]string{
	"Arch": "-arch", "Model": "-model", "Batch": "-batch", "Gamma": "-gamma", "Beta": "-beta",
	"Margin": "-margin", "EMA": "-ema", "Init": "-init", "Optim.Kind": "-optim", "Optim.LR": "-lr",
}

// flagError names the flag behind a configuration error, as the user typed
// it: "-batch 1: want 2 to 16384 …".
func flagError(err error) error {
	var ce *model.ConfigError
	if errors.As(err, &ce) {
		if name, ok := configFlags[ce.Field]; ok {
			return fmt.Errorf("%s %s: %s", name, ce.Value, ce.Want)
		}
	}
	return err
}

// skipLog lists the image files -skip-bad-images skipped in the run folder,
// one error message per line, appended as they are found.
type skipLog struct {
	path string
	mu   sync.Mutex
	n    int
	err  error // the first failure to write the list
}

// add records a skipped image; data.SkipBad calls it from loader goroutines.
func (s *skipLog) add(_ int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	f, ferr := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr == nil {
		_, ferr = fmt.Fprintln(f, err)
		if cerr := f.Close(); ferr == nil {
			ferr = cerr
		}
	}
	if ferr != nil && s.err == nil {
		s.err = ferr
	}
}

// report says how many images were skipped and where they are listed.
func (s *skipLog) report(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 {
		fmt.Fprintf(w, "skipped %d image file(s) that failed to load, listed in %s\n", s.n, s.path)
	}
	if s.err != nil {
		fmt.Fprintf(w, "could not list the skipped images in %s: %v\n", s.path, s.err)
	}
}

// skipHint adds to a data error the flag that skips unreadable images, when
// it is not given.
func (f *trainFlags) skipHint(err error) error {
	if f.skipBad {
		return err
	}
	return fmt.Errorf("%w (-skip-bad-images skips image files that fail to load)", err)
}

// absData makes a dataset path absolute, so that a run resumes from any
// working directory ("" is the embedded MNIST and stays "").
func absData(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("-data %s: %w", path, err)
	}
	return abs, nil
}

// ignoredFlags says, for each configuration flag given to a resumed run
// whose value differs from the run's, that it is ignored and why.
func ignoredFlags(set map[string]bool, asked, run model.Config) []string {
	var out []string
	say := func(flag string, given, kept any) {
		if set[flag] && fmt.Sprint(given) != fmt.Sprint(kept) {
			out = append(out, fmt.Sprintf("-resume: ignoring -%s %v: the run being resumed has %v (a resumed run keeps its checkpoint's configuration)", flag, given, kept))
		}
	}
	say("arch", asked.Arch, run.Arch)
	say("model", asked.Model, run.Model)
	say("batch", asked.Batch, run.Batch)
	say("optim", asked.Optim.Kind, run.Optim.Kind)
	say("lr", asked.Optim.LR, run.Optim.LR)
	say("lr-dec", asked.Optim.DecLR, run.Optim.DecLR)
	say("gamma", asked.Gamma, run.Gamma)
	say("beta", asked.Beta, run.Beta)
	say("init", asked.Init, run.Init)
	say("equilibrium", !asked.NoEquilibrium, !run.NoEquilibrium)
	say("margin", asked.Margin, run.Margin)
	say("ema", asked.EMA, run.EMA)
	say("sync-bn", asked.SyncBN, run.SyncBN)
	say("seed", asked.Seed, run.Seed)
	return out
}

// readCheckpoint reads the checkpoint at path on rank 0 and sends it to the
// other ranks, which need not see rank 0's files.
func readCheckpoint(c comm.Comm, path string) (*checkpoint.File, error) {
	if c.Size() == 1 {
		return checkpoint.Read(path)
	}
	var raw []byte
	if c.Rank() == 0 {
		if _, err := checkpoint.Read(path); err != nil {
			return nil, err
		}
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	raw, err := comm.BroadcastBytes(c, raw, 0)
	if err != nil {
		return nil, err
	}
	return checkpoint.Parse(path, raw)
}

// anyRank says whether v is true on any rank of c.
func anyRank(c comm.Comm, v bool) (bool, error) {
	if c.Size() == 1 {
		return v, nil
	}
	flag := []float32{0}
	if v {
		flag[0] = 1
	}
	err := c.AllReduce(flag)
	return flag[0] > 0, err
}

// tf32Note describes -tf32 after a device name.
func tf32Note(on bool) string {
	if on {
		return " with TF32"
	}
	return ""
}
