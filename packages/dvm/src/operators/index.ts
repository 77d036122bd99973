/**
 * Registers every operator's rules (importing a module registers its kind). Adding an operator =
 * one module plus one line here.
 */
import './constant.js';
import './filter.js';
import './join.js';
import './project.js';
import './scan.js';
import './union-all.js';
import './outer-join.js';
import './semi-join.js';
import './aggregate.js';
import './distinct.js';
import './set-op.js';
import './window.js';
import './top-n.js';
import './lateral.js';
import './recursive.js';
import './scalar-subquery.js';
