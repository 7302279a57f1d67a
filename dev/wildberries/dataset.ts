/**
 * Deterministic generator of a realistic Wildberries seller data set: products with size grids and
 * EAN-13 barcodes, orders, sales (buyouts, returns, a few other operations) and stocks, in the exact
 * row formats of the statistics API (see `src/integrations/wildberries/types.ts`).
 *
 * How the data set is built:
 * - a *plan* is drawn from the seed and the anchor's Moscow calendar day only: every order over the
 *   `days` calendar days ending on the anchor day, and every follow-up event (cancellation, buyout,
 *   return, other operation), even those later than the anchor;
 * - the anchor instant then cuts the plan: events after it have not happened yet. An order placed
 *   later is absent, a cancellation later leaves the order open, a buyout later leaves no sale row.
 *   So a later anchor on the same day shows a superset of the rows of an earlier one.
 * - `lastChangeDate` values are distinct within each feed whatever the anchor (second resolution,
 *   each claimed from a set of taken seconds), so a client paging by `lastChangeDate` with an
 *   inclusive `dateFrom` always makes progress.
 *
 * The generator uses its own seeded PRNG (sfc32), so it has no dependency and produces the same data
 * set for the same options on every machine.
 *
 * @see https://dev.wildberries.ru/openapi/reports (statistics API: orders, sales, stocks)
 */
import type { WbDateTime, WbOrder, WbSale, WbStock, WbWarehouseType } from "../../src/integrations/wildberries/types";

/** Options of {@link generateWbDataset}. */
export interface WbDatasetOptions {
  /** PRNG seed; the same seed and anchor day give the same plan. Default 1. */
  seed?: number;
  /** The data ends at this instant, on its Moscow-time calendar day. Default: now. */
  anchor?: Date;
  /** Calendar days covered, the anchor's day included. Default 180. */
  days?: number;
  /** Product cards (nmId). Default 150. */
  products?: number;
  /**
   * Warehouses: WB warehouses plus, from 3 on, one seller's warehouse (FBS). Default 8, at most
   * {@link WB_MAX_WAREHOUSES}. The first 16 WB warehouses are the ones most sellers ship from; the
   * others (a big seller's) each carry about a third of the products.
   */
  warehouses?: number;
  /**
   * Orders planned over the whole range up to the end of the anchor day; with an anchor at
   * 23:59:59 Moscow time the data set holds exactly this many. Default 50,000.
   */
  orders?: number;
}

/**
 * Named data sets of the double: `demo` (the default of `npm run dev` and the tests: 150 products,
 * 8 warehouses, 50,000 orders over 180 days) and `large` (a big seller: 3,000 products, 40
 * warehouses, 1,000,000 orders over 180 days, with the demo's shares of cancellations, buyouts and
 * returns: ~1.9 million rows of orders, sales and stocks). As with every data set, the orders
 * planned after the anchor instant are not there yet (~997,500 at a mid-day anchor). Chosen by
 * `WB_DATASET` (`npm run dev`) or `BENCH_DATASET` (`npm run bench`).
 */
export const WB_DATASET_PRESETS = {
  demo: {},
  large: { products: 3_000, warehouses: 40, days: 180, orders: 1_000_000 },
} as const satisfies Record<string, WbDatasetOptions>;

/** A name of {@link WB_DATASET_PRESETS}. */
export type WbDatasetPreset = keyof typeof WB_DATASET_PRESETS;

/**
 * The preset named `name` (`undefined` or empty: `demo`).
 * @throws Error naming the known presets when `name` is not one of them (e.g. a typo in `WB_DATASET`).
 */
export function wbDatasetPreset(name: string | undefined): { name: WbDatasetPreset; options: WbDatasetOptions } {
  const chosen = name === undefined || name === "" ? "demo" : name;
  if (!Object.hasOwn(WB_DATASET_PRESETS, chosen)) {
    throw new Error(`unknown Wildberries data set ${JSON.stringify(chosen)}: use one of ${Object.keys(WB_DATASET_PRESETS).join(", ")}`);
  }
  const preset = chosen as WbDatasetPreset;
  return { name: preset, options: { ...WB_DATASET_PRESETS[preset] } };
}

/** One size of a product card. */
export interface WbDatasetSize {
  techSize: string;
  /** 13-digit EAN with a valid check digit. */
  barcode: string;
}

/** One product card of the data set, with its state at the anchor. */
export interface WbDatasetProduct {
  nmId: number;
  supplierArticle: string;
  brand: string;
  subject: string;
  category: string;
  sizes: WbDatasetSize[];
  /** Price before the seller's discount at the anchor, ₽. */
  totalPrice: number;
  /** Seller's discount at the anchor, %. */
  discountPercent: number;
  /** Planned share of all orders, 0..1 (popularity is skewed: a few products sell most). */
  popularity: number;
}

/** A warehouse of the data set. */
export interface WbDatasetWarehouse {
  name: string;
  type: WbWarehouseType;
}

/** A generated data set; every feed is sorted by `lastChangeDate` ascending. */
export interface WbDataset {
  seed: number;
  /** The anchor instant, UTC RFC 3339 (second resolution). */
  anchor: string;
  /** First instant covered: 00:00:00 Moscow time of the first day. */
  from: WbDateTime;
  /** Last instant covered: the anchor in Moscow time. */
  to: WbDateTime;
  products: WbDatasetProduct[];
  warehouses: WbDatasetWarehouse[];
  orders: WbOrder[];
  sales: WbSale[];
  stocks: WbStock[];
}

const MOSCOW_OFFSET_S = 3 * 3600;
const DAY_S = 86_400;

/**
 * Formats an instant as WB does: Moscow time without an offset, second resolution.
 * @param epochMs milliseconds since the Unix epoch (fractions of a second are dropped).
 */
export function toWbDateTime(epochMs: number): WbDateTime {
  const local = Math.floor(epochMs / 1000) + MOSCOW_OFFSET_S;
  const day = Math.floor(local / DAY_S);
  let date = dayCache.get(day);
  if (date === undefined) {
    date = new Date(day * DAY_S * 1000).toISOString().slice(0, 11);
    if (dayCache.size > 20_000) dayCache.clear();
    dayCache.set(day, date);
  }
  const second = local - day * DAY_S;
  const hour = Math.floor(second / 3600);
  const minute = Math.floor((second % 3600) / 60);
  // `join` builds one flat string; a template literal would keep a tree of 5 pieces (~4× the memory
  // per timestamp, which at 1,000,000 orders is most of the data set's heap).
  return [date, TWO_DIGITS[hour], ":", TWO_DIGITS[minute], ":", TWO_DIGITS[second % 60]].join("");
}

/** `YYYY-MM-DDT` by Moscow day number: formatting is the hot path of the generator. */
const dayCache = new Map<number, string>();
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));

/**
 * Parses a WB timestamp without an offset (`2026-11-20T14:03:11`, optionally with a fraction) as
 * Moscow time.
 * @returns milliseconds since the Unix epoch, or `NaN` when the text is not such a timestamp.
 */
export function fromWbDateTime(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/.exec(text);
  if (match === null) return Number.NaN;
  const [, y, mo, d, h, mi, s, fraction] = match;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const ms = fraction === undefined ? 0 : Number(`0.${fraction}`) * 1000;
  return utc - MOSCOW_OFFSET_S * 1000 + ms;
}

/** Small, fast, seedable PRNG (sfc32 seeded through splitmix32). */
class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let state = (Math.trunc(seed) ^ 0x5eed_cafe) >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4_294_967_296;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Uniform real in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.float() * items.length)];
    if (item === undefined) throw new RangeError("pick from an empty list");
    return item;
  }

  /** Index drawn with probability proportional to `cumulative[i] - cumulative[i - 1]`. */
  weighted(cumulative: readonly number[]): number {
    const total = cumulative[cumulative.length - 1] ?? 0;
    const x = this.float() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] ?? 0) > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

function cumulate(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => {
    sum += w;
    return sum;
  });
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Element of a list the code built itself, so the index is known to be in range. */
function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new RangeError(`index ${index} out of range ${items.length}`);
  return item;
}

type SizeGrid = "none" | "letter" | "ru" | "shoe" | "range";

const SIZE_GRIDS: Record<SizeGrid, readonly string[]> = {
  none: ["0"],
  letter: ["XS", "S", "M", "L", "XL", "XXL", "3XL"],
  ru: ["42", "44", "46", "48", "50", "52", "54"],
  shoe: ["36", "37", "38", "39", "40", "41", "42", "43", "44", "45"],
  range: ["36-37", "38-39", "40-41", "42-43", "44-45"],
};

interface CategorySpec {
  category: string;
  weight: number;
  subjects: ReadonlyArray<readonly [string, SizeGrid]>;
  /** Price after the seller's discount, ₽. */
  price: readonly [number, number];
  /** Share of delivered orders that are bought out. */
  buyout: number;
  /** WB commission, share of `priceWithDisc`. */
  commission: number;
}

const CATALOG: readonly CategorySpec[] = [
  {
    category: "Одежда",
    weight: 30,
    subjects: [
      ["Футболки", "letter"],
      ["Худи", "letter"],
      ["Свитшоты", "letter"],
      ["Платья", "ru"],
      ["Джинсы", "ru"],
      ["Брюки", "ru"],
      ["Куртки", "letter"],
      ["Рубашки", "ru"],
    ],
    price: [600, 9000],
    buyout: 0.64,
    commission: 0.245,
  },
  {
    category: "Обувь",
    weight: 12,
    subjects: [
      ["Кроссовки", "shoe"],
      ["Ботинки", "shoe"],
      ["Кеды", "shoe"],
      ["Тапочки", "range"],
    ],
    price: [900, 13000],
    buyout: 0.6,
    commission: 0.235,
  },
  {
    category: "Белье",
    weight: 8,
    subjects: [
      ["Носки", "range"],
      ["Трусы", "letter"],
      ["Пижамы", "letter"],
    ],
    price: [350, 3500],
    buyout: 0.82,
    commission: 0.245,
  },
  {
    category: "Дом",
    weight: 12,
    subjects: [
      ["Постельное белье", "none"],
      ["Полотенца", "none"],
      ["Пледы", "none"],
      ["Подушки", "none"],
      ["Органайзеры", "none"],
    ],
    price: [400, 7000],
    buyout: 0.9,
    commission: 0.19,
  },
  {
    category: "Красота",
    weight: 10,
    subjects: [
      ["Кремы", "none"],
      ["Шампуни", "none"],
      ["Сыворотки", "none"],
      ["Маски для лица", "none"],
    ],
    price: [350, 4500],
    buyout: 0.93,
    commission: 0.2,
  },
  {
    category: "Электроника",
    weight: 8,
    subjects: [
      ["Наушники", "none"],
      ["Зарядные устройства", "none"],
      ["Чехлы для телефонов", "none"],
      ["Умные часы", "none"],
    ],
    price: [450, 13000],
    buyout: 0.9,
    commission: 0.17,
  },
  {
    category: "Детям",
    weight: 8,
    subjects: [
      ["Игрушки мягкие", "none"],
      ["Конструкторы", "none"],
      ["Развивающие игрушки", "none"],
    ],
    price: [400, 6000],
    buyout: 0.88,
    commission: 0.2,
  },
  {
    category: "Аксессуары",
    weight: 6,
    subjects: [
      ["Сумки", "none"],
      ["Рюкзаки", "none"],
      ["Ремни", "none"],
      ["Шарфы", "none"],
    ],
    price: [500, 9000],
    buyout: 0.8,
    commission: 0.22,
  },
  {
    category: "Спорт",
    weight: 6,
    subjects: [
      ["Коврики для йоги", "none"],
      ["Гантели", "none"],
      ["Леггинсы спортивные", "letter"],
      ["Бутылки для воды", "none"],
    ],
    price: [400, 8000],
    buyout: 0.85,
    commission: 0.2,
  },
];

const BRANDS: ReadonlyArray<readonly [string, string]> = [
  ["Северный Ветер", "SV"],
  ["Мягкий Дом", "MD"],
  ["NordFox", "NF"],
  ["Лесная Сказка", "LS"],
  ["UrbanLine", "UL"],
  ["Теплота", "TP"],
  ["Ясна", "YA"],
  ["VoltX", "VX"],
  ["Бархат", "BR"],
  ["FitRise", "FR"],
  ["Домовёнок", "DV"],
  ["Lumi", "LM"],
];

const COLORS = ["черный", "белый", "серый", "бежевый", "синий", "зеленый", "розовый", "хаки"];

/**
 * WB warehouses in the order a typical seller uses them: the 16 of a small seller's data set, then
 * the ones a big seller adds (WB's names as the statistics API writes them in `warehouseName`).
 */
const WB_WAREHOUSES: readonly string[] = [
  "Коледино",
  "Подольск",
  "Электросталь",
  "Казань",
  "Краснодар",
  "Екатеринбург - Испытателей 14г",
  "Новосибирск",
  "Санкт-Петербург Шушары",
  "Тула",
  "Невинномысск",
  "Рязань (Тюшевское)",
  "Самара (Новосемейкино)",
  "Волгоград",
  "Хабаровск",
  "Белые Столбы",
  "Чехов 1",
  // A big seller's: from the 17th on.
  "Котовск",
  "Белая Дача",
  "Сынково",
  "Вёшки",
  "Пушкино",
  "Обухово",
  "Иваново",
  "Владимир",
  "Краснодар (Тихорецкая)",
  "Санкт-Петербург Уткина Заводь",
  "Атакент",
  "Минск",
  "Астана",
  "Екатеринбург - Перспективный 12",
  "Подольск 3",
  "Чехов 2",
  "Радумля",
  "Домодедово",
  "Воронеж",
  "Нижний Новгород",
  "Сарапул",
  "Барнаул",
  "Красноярск",
  "Владивосток",
  "Обухово 2",
];

/** WB warehouses a small seller's data set draws from (the products carry each with a chance of 0.65). */
const CORE_WB_WAREHOUSES = 16;

/** Largest `warehouses` option: every WB warehouse of the list and the seller's own. */
export const WB_MAX_WAREHOUSES = WB_WAREHOUSES.length + 1;

const SELLER_WAREHOUSE = "Мытищи FBS";

interface Region {
  country: string;
  okrug: string;
  region: string;
  weight: number;
  /** Nearest WB warehouse; orders ship from it when the product is stocked there. */
  home: string;
  /** A nearer warehouse of a big seller's data set: used instead of `home` when the data set has it. */
  nearest?: string;
}

const CFO = "Центральный федеральный округ";
const SZFO = "Северо-Западный федеральный округ";
const PFO = "Приволжский федеральный округ";
const UFO = "Южный федеральный округ";
const SKFO = "Северо-Кавказский федеральный округ";
const URFO = "Уральский федеральный округ";
const SFO = "Сибирский федеральный округ";
const DFO = "Дальневосточный федеральный округ";
const EKB = "Екатеринбург - Испытателей 14г";

const REGIONS: readonly Region[] = [
  { country: "Россия", okrug: CFO, region: "Москва", weight: 22, home: "Коледино" },
  { country: "Россия", okrug: CFO, region: "Московская область", weight: 14, home: "Подольск" },
  { country: "Россия", okrug: CFO, region: "Тульская область", weight: 2, home: "Тула" },
  { country: "Россия", okrug: CFO, region: "Воронежская область", weight: 2.5, home: "Коледино", nearest: "Воронеж" },
  { country: "Россия", okrug: CFO, region: "Владимирская область", weight: 1.5, home: "Электросталь", nearest: "Владимир" },
  { country: "Россия", okrug: CFO, region: "Рязанская область", weight: 1.2, home: "Рязань (Тюшевское)" },
  { country: "Россия", okrug: SZFO, region: "Санкт-Петербург", weight: 9, home: "Санкт-Петербург Шушары" },
  {
    country: "Россия",
    okrug: SZFO,
    region: "Ленинградская область",
    weight: 2.5,
    home: "Санкт-Петербург Шушары",
    nearest: "Санкт-Петербург Уткина Заводь",
  },
  { country: "Россия", okrug: PFO, region: "Республика Татарстан", weight: 4, home: "Казань" },
  { country: "Россия", okrug: PFO, region: "Нижегородская область", weight: 3, home: "Казань", nearest: "Нижний Новгород" },
  { country: "Россия", okrug: PFO, region: "Самарская область", weight: 3, home: "Самара (Новосемейкино)" },
  { country: "Россия", okrug: PFO, region: "Республика Башкортостан", weight: 3, home: "Казань", nearest: "Сарапул" },
  { country: "Россия", okrug: UFO, region: "Краснодарский край", weight: 5, home: "Краснодар" },
  { country: "Россия", okrug: UFO, region: "Ростовская область", weight: 3.5, home: "Краснодар" },
  { country: "Россия", okrug: UFO, region: "Волгоградская область", weight: 2, home: "Волгоград" },
  { country: "Россия", okrug: SKFO, region: "Ставропольский край", weight: 2, home: "Невинномысск" },
  { country: "Россия", okrug: SKFO, region: "Республика Дагестан", weight: 2, home: "Невинномысск" },
  { country: "Россия", okrug: URFO, region: "Свердловская область", weight: 3.5, home: EKB },
  { country: "Россия", okrug: URFO, region: "Челябинская область", weight: 2.5, home: EKB },
  { country: "Россия", okrug: URFO, region: "Тюменская область", weight: 1.5, home: EKB },
  { country: "Россия", okrug: SFO, region: "Новосибирская область", weight: 2.5, home: "Новосибирск" },
  { country: "Россия", okrug: SFO, region: "Красноярский край", weight: 2, home: "Новосибирск", nearest: "Красноярск" },
  { country: "Россия", okrug: SFO, region: "Омская область", weight: 1.5, home: "Новосибирск" },
  { country: "Россия", okrug: DFO, region: "Приморский край", weight: 1.5, home: "Хабаровск", nearest: "Владивосток" },
  { country: "Россия", okrug: DFO, region: "Хабаровский край", weight: 1, home: "Хабаровск" },
  { country: "Беларусь", okrug: "", region: "Минская область", weight: 1.5, home: "Коледино", nearest: "Минск" },
  { country: "Казахстан", okrug: "", region: "Алматы", weight: 1.2, home: EKB, nearest: "Атакент" },
  { country: "Армения", okrug: "", region: "Ереван", weight: 0.4, home: "Краснодар" },
  { country: "Кыргызстан", okrug: "", region: "Бишкек", weight: 0.3, home: "Новосибирск" },
];

/** Relative order volume by Moscow hour: quiet nights, evening peak. */
const HOUR_WEIGHTS = [3, 2, 1.2, 0.8, 0.6, 0.6, 1, 1.8, 2.8, 3.6, 4.2, 4.6, 5, 5, 5, 5, 5.2, 5.4, 5.8, 6.4, 7, 7.2, 6.2, 4.6];

/** Relative order volume by weekday, Sunday first: WB peaks on Sunday and Monday. */
const WEEKDAY_WEIGHTS = [1.12, 1.1, 1, 0.97, 0.95, 0.9, 0.98];

interface PlannedProduct {
  card: WbDatasetProduct;
  spec: CategorySpec;
  sizeCumulative: number[];
  /** Indexes into the warehouse list (WB warehouses only). */
  wbWarehouses: number[];
  /** incomeID per warehouse index (0 for the seller's warehouse). */
  incomeIds: Map<number, number>;
  hasFbs: boolean;
  cancelRate: number;
  /** Price epochs: before and from `changeAt` (epoch seconds). */
  changeAt: number;
  before: { totalPrice: number; discountPercent: number };
  after: { totalPrice: number; discountPercent: number };
}

interface PlannedOrder {
  product: PlannedProduct;
  size: number;
  warehouse: number;
  region: Region;
  date: number;
  /** Last change while open (>= date). */
  touched: number;
  /** Cancellation instant, or Infinity when never canceled within the plan. */
  canceled: number;
  totalPrice: number;
  discountPercent: number;
  spp: number;
  priceWithDisc: number;
  finishedPrice: number;
  sticker: string;
  gNumber: string;
  srid: string;
}

type SaleKind = "S" | "R" | "D";

interface PlannedSale {
  order: PlannedOrder;
  kind: SaleKind;
  date: number;
  touched: number;
  forPay: number;
  finishedPrice: number;
  priceWithDisc: number;
  paymentSaleAmount: number;
  saleID: string;
}

/** Set of taken seconds in [base, base + length): a bitset, cheaper than a `Set<number>`. */
class SecondSet {
  private readonly bits: Uint32Array;

  constructor(
    private readonly base: number,
    private readonly length: number,
  ) {
    this.bits = new Uint32Array(Math.ceil(length / 32));
  }

  /**
   * Claims a free second near `t` within [lo, hi]: first `t` and later, then earlier.
   * @returns the claimed second, or `undefined` when every second of the range is taken.
   */
  claim(t: number, lo: number, hi: number): number | undefined {
    const from = Math.max(lo, this.base);
    const to = Math.min(hi, this.base + this.length - 1);
    for (let x = Math.max(t, from); x <= to; x++) if (this.take(x)) return x;
    for (let x = Math.min(t, to + 1) - 1; x >= from; x--) if (this.take(x)) return x;
    return undefined;
  }

  private take(x: number): boolean {
    const i = x - this.base;
    const word = i >>> 5;
    const mask = 1 << (i & 31);
    const current = this.bits[word] ?? 0;
    if ((current & mask) !== 0) return false;
    this.bits[word] = current | mask;
    return true;
  }
}

function ean13(rng: Random, taken: Set<string>): string {
  for (;;) {
    let digits = "20";
    for (let i = 0; i < 10; i++) digits += String(rng.int(0, 9));
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(digits[i]) * (i % 2 === 0 ? 1 : 3);
    const code = digits + String((10 - (sum % 10)) % 10);
    if (!taken.has(code)) {
      taken.add(code);
      return code;
    }
  }
}

const hex8 = (x: number): string => (x >>> 0).toString(16).padStart(8, "0");

/** Rounds a list price up to a "…90" price tag, as sellers do. */
const priceTag = (x: number): number => Math.max(90, Math.ceil(x / 100) * 100 - 10);

function validate(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/**
 * Generates a data set. Deterministic: the same `seed` and anchor day give the same plan, and the
 * same anchor instant the same rows.
 *
 * Shape: ~8–12 % of orders canceled (`cancelDate` after `date`, `lastChangeDate = cancelDate`);
 * most other orders bought out 1–9 days later (`S` sale row, same `srid`); ~3.5 % of buyouts
 * returned 1–14 days later (`R` row, signed negative in ~60 % of rows, positive in the rest);
 * ~0.5 % other operations (`D` rows). The latest orders are not yet bought out. No timestamp is
 * later than the anchor. Stocks: one row per size and WB warehouse that carries the product,
 * zero quantities included.
 *
 * Speed: 50,000 orders in a few hundred milliseconds; the `large` preset (1,000,000 orders) in
 * 6–10 s on a 2-vCPU machine, its rows holding ~0.8 GB of heap (1.5 GB at the peak of generation).
 *
 * @throws RangeError on an option out of range (e.g. `warehouses` above {@link WB_MAX_WAREHOUSES}).
 * @see https://dev.wildberries.ru/openapi/reports
 */
export function generateWbDataset(options: WbDatasetOptions = {}): WbDataset {
  const seed = options.seed ?? 1;
  const days = validate("days", options.days ?? 180, 1, 3660);
  const productCount = validate("products", options.products ?? 150, 1, 100_000);
  const warehouseCount = validate("warehouses", options.warehouses ?? 8, 1, WB_MAX_WAREHOUSES);
  const orderCount = validate("orders", options.orders ?? 50_000, 0, 5_000_000);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const anchorMs = (options.anchor ?? new Date()).getTime();
  if (!Number.isFinite(anchorMs)) throw new RangeError("anchor is not a valid date");

  const rng = new Random(seed);
  const anchorS = Math.floor(anchorMs / 1000);
  const anchorDayStart = Math.floor((anchorS + MOSCOW_OFFSET_S) / DAY_S) * DAY_S - MOSCOW_OFFSET_S;
  const planStart = anchorDayStart - (days - 1) * DAY_S;
  const planEnd = anchorDayStart + DAY_S - 1;
  const cut = Math.min(anchorS, planEnd);

  // Warehouses: WB ones in the usual order, the last slot the seller's own from 3 on.
  const hasSellerWarehouse = warehouseCount >= 3;
  const wbCount = hasSellerWarehouse ? warehouseCount - 1 : warehouseCount;
  const warehouses: WbDatasetWarehouse[] = WB_WAREHOUSES.slice(0, wbCount).map((name) => ({
    name,
    type: "Склад WB" as const,
  }));
  if (hasSellerWarehouse) warehouses.push({ name: SELLER_WAREHOUSE, type: "Склад продавца" });
  const sellerIndex = hasSellerWarehouse ? warehouses.length - 1 : -1;
  const warehouseIndex = new Map(warehouses.map((w, i) => [w.name, i]));

  // Products.
  const brands = rng.shuffle([...BRANDS]).slice(0, 5);
  const categoryCumulative = cumulate(CATALOG.map((c) => c.weight));
  const rankWeights = rng.shuffle(Array.from({ length: productCount }, (_, i) => i)).map((rank) => 1 / (rank + 1) ** 0.9);
  const rankTotal = rankWeights.reduce((a, b) => a + b, 0);
  const nmIds = new Set<number>();
  const barcodes = new Set<string>();
  const incomeIds = new Set<number>();
  const planned: PlannedProduct[] = [];
  for (let i = 0; i < productCount; i++) {
    // The first products cover every category, so every size grid occurs.
    const spec = at(CATALOG, i < CATALOG.length ? i : rng.weighted(categoryCumulative));
    const [subject, grid] = rng.pick(spec.subjects);
    const fullGrid = SIZE_GRIDS[grid];
    const sizeCount = grid === "none" ? 1 : rng.int(Math.min(3, fullGrid.length), fullGrid.length);
    const firstSize = rng.int(0, fullGrid.length - sizeCount);
    const techSizes = fullGrid.slice(firstSize, firstSize + sizeCount);
    const [brand, brandCode] = rng.pick(brands);
    let nmId = rng.int(100_000_000, 399_999_999);
    while (nmIds.has(nmId)) nmId = rng.int(100_000_000, 399_999_999);
    nmIds.add(nmId);
    const sizes = techSizes.map((techSize) => ({ techSize, barcode: ean13(rng, barcodes) }));
    const mid = (sizes.length - 1) / 2;
    const sizeCumulative = cumulate(sizes.map((_, j) => 1 + 2 * Math.exp(-(((j - mid) / Math.max(1, sizes.length / 3)) ** 2))));

    const [lo, hi] = spec.price;
    const price = Math.exp(rng.between(Math.log(lo), Math.log(hi)));
    const discount = rng.int(10, 65);
    const totalPrice = priceTag(price / (1 - discount / 100));
    const changedPrice = price * rng.between(0.92, 1.08);
    const changedDiscount = Math.min(70, Math.max(5, discount + rng.int(-5, 5)));
    const after = {
      totalPrice: priceTag(changedPrice / (1 - changedDiscount / 100)),
      discountPercent: changedDiscount,
    };

    const wbWarehouses = [0];
    for (let w = 1; w < wbCount; w++) if (rng.chance(w < CORE_WB_WAREHOUSES ? 0.65 : 0.35)) wbWarehouses.push(w);
    if (wbWarehouses.length === 1 && wbCount > 1) wbWarehouses.push(rng.int(1, wbCount - 1));
    const productIncomeIds = new Map<number, number>();
    for (const w of wbWarehouses) {
      let id = rng.int(10_000_000, 39_999_999);
      while (incomeIds.has(id)) id = rng.int(10_000_000, 39_999_999);
      incomeIds.add(id);
      productIncomeIds.set(w, id);
    }
    const hasFbs = hasSellerWarehouse && rng.chance(0.4);
    if (hasFbs) productIncomeIds.set(sellerIndex, 0);

    planned.push({
      card: {
        nmId,
        supplierArticle: `${brandCode}-${String(1001 + i)}/${rng.pick(COLORS)}`,
        brand,
        subject,
        category: spec.category,
        sizes,
        totalPrice: after.totalPrice,
        discountPercent: after.discountPercent,
        popularity: at(rankWeights, i) / rankTotal,
      },
      spec,
      sizeCumulative,
      wbWarehouses,
      incomeIds: productIncomeIds,
      hasFbs,
      cancelRate: 0.1 * rng.between(0.75, 1.25),
      changeAt: planStart + rng.int(0, days * DAY_S),
      before: { totalPrice, discountPercent: discount },
      after,
    });
  }
  const productCumulative = cumulate(planned.map((p) => p.card.popularity));
  const regionCumulative = cumulate(REGIONS.map((r) => r.weight));
  const hourCumulative = cumulate(HOUR_WEIGHTS);

  // Orders per day: growth trend, weekday rhythm, noise and a few promo spikes.
  const dayWeights: number[] = [];
  for (let d = 0; d < days; d++) {
    const weekday = new Date((planStart + d * DAY_S + MOSCOW_OFFSET_S) * 1000).getUTCDay();
    const trend = 0.7 + (0.6 * d) / Math.max(1, days - 1);
    dayWeights.push(trend * at(WEEKDAY_WEIGHTS, weekday) * rng.between(0.85, 1.15));
  }
  for (let k = 0; k < Math.ceil(days / 60); k++) {
    const d = rng.int(0, days - 1);
    dayWeights[d] = at(dayWeights, d) * rng.between(1.6, 2.2);
  }
  const dayTotal = dayWeights.reduce((a, b) => a + b, 0);
  const exact = dayWeights.map((w) => (w / dayTotal) * orderCount);
  const dayCounts = exact.map(Math.floor);
  let missing = orderCount - dayCounts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, d) => [x - Math.floor(x), d] as const).sort((a, b) => b[0] - a[0]);
  for (const [, d] of byRemainder) {
    if (missing-- <= 0) break;
    dayCounts[d] = at(dayCounts, d) + 1;
  }
  // WB's discount for the buyer (СПП) moves from day to day.
  const daySpp = dayWeights.map(() => rng.int(8, 28));

  const orderSeconds = new SecondSet(planStart, days * DAY_S);
  const orders: PlannedOrder[] = [];
  for (let d = 0; d < days; d++) {
    const dayStart = planStart + d * DAY_S;
    let remaining = at(dayCounts, d);
    while (remaining > 0) {
      // One checkout: 1–3 lines sharing time, region and gNumber.
      const roll = rng.float();
      const lines = Math.min(remaining, roll < 0.85 ? 1 : roll < 0.96 ? 2 : 3);
      remaining -= lines;
      const hour = rng.weighted(hourCumulative);
      const basketTime = dayStart + hour * 3600 + rng.int(0, 3599);
      const region = at(REGIONS, rng.weighted(regionCumulative));
      const gNumber = [rng.int(1_000_000_000, 9_999_999_999), String(rng.int(0, 999_999_999)).padStart(9, "0")].join("");
      for (let line = 0; line < lines; line++) {
        const date = orderSeconds.claim(basketTime + line, dayStart, dayStart + DAY_S - 1);
        if (date === undefined) throw new RangeError("too many orders for distinct timestamps");
        const product = at(planned, rng.weighted(productCumulative));
        const size = rng.weighted(product.sizeCumulative);
        let warehouse: number;
        if (product.hasFbs && rng.chance(0.15)) warehouse = sellerIndex;
        else {
          const home = (region.nearest === undefined ? undefined : warehouseIndex.get(region.nearest)) ?? warehouseIndex.get(region.home);
          warehouse = home !== undefined && product.wbWarehouses.includes(home) && rng.chance(0.65) ? home : rng.pick(product.wbWarehouses);
        }
        const delay = rng.chance(0.3) ? 0 : rng.int(30, 5400);
        const touched = delay === 0 ? date : (orderSeconds.claim(date + delay, date + 1, planEnd) ?? date);
        let canceled = Number.POSITIVE_INFINITY;
        if (rng.chance(product.cancelRate)) {
          const after = rng.chance(0.6) ? rng.int(600, 6 * 3600) : rng.int(6 * 3600, 72 * 3600);
          if (date + after <= planEnd) {
            canceled = orderSeconds.claim(date + after, touched + 1, planEnd) ?? canceled;
          }
        }
        const prices = date < product.changeAt ? product.before : product.after;
        const spp = Math.min(35, Math.max(0, at(daySpp, d) + rng.int(-3, 3)));
        const priceWithDisc = round2(prices.totalPrice * (1 - prices.discountPercent / 100));
        const index = orders.length;
        orders.push({
          product,
          size,
          warehouse,
          region,
          date,
          touched,
          canceled,
          totalPrice: prices.totalPrice,
          discountPercent: prices.discountPercent,
          spp,
          priceWithDisc,
          finishedPrice: round2(priceWithDisc * (1 - spp / 100)),
          sticker: warehouse === sellerIndex ? String(rng.int(1_000_000_000, 9_999_999_999)) : "",
          gNumber,
          srid: [rng.int(1, 99), ".r", hex8(rng.u32()), hex8(Math.imul(index + 1, 0x9e3779b1)), ".0.0"].join(""),
        });
      }
    }
  }

  // Sales: buyouts, returns and other operations, planned up to the end of the anchor day.
  const saleSeconds = new SecondSet(planStart, days * DAY_S);
  const sales: PlannedSale[] = [];
  const plan = (
    order: PlannedOrder,
    kind: SaleKind,
    when: number,
    amounts: Pick<PlannedSale, "forPay" | "finishedPrice" | "priceWithDisc" | "paymentSaleAmount">,
  ): PlannedSale | undefined => {
    if (when > planEnd) return undefined;
    const date = saleSeconds.claim(when, when, planEnd);
    if (date === undefined) return undefined;
    const delay = rng.chance(0.4) ? 0 : rng.int(60, 4 * 3600);
    const touched = delay === 0 ? date : (saleSeconds.claim(date + delay, date + 1, planEnd) ?? date);
    const sale: PlannedSale = { order, kind, date, touched, ...amounts, saleID: "" };
    sales.push(sale);
    return sale;
  };
  for (const order of orders) {
    if (order.canceled !== Number.POSITIVE_INFINITY || !rng.chance(order.product.spec.buyout)) {
      continue;
    }
    const fbs = order.warehouse === sellerIndex;
    const delivery = fbs ? rng.int(2.5 * DAY_S, 9 * DAY_S) : rng.int(1.2 * DAY_S, 6 * DAY_S);
    const forPay = round2(order.priceWithDisc * (1 - order.product.spec.commission));
    const wallet = rng.chance(0.12) ? Math.round(order.finishedPrice * rng.between(0.01, 0.03)) : 0;
    const buyout = plan(order, "S", order.date + delivery, {
      forPay,
      finishedPrice: order.finishedPrice,
      priceWithDisc: order.priceWithDisc,
      paymentSaleAmount: wallet,
    });
    if (buyout === undefined) continue;
    if (rng.chance(0.035)) {
      // Feeds differ: some return rows are signed negative, others positive.
      const sign = rng.chance(0.6) ? -1 : 1;
      plan(order, "R", buyout.date + rng.int(DAY_S, 14 * DAY_S), {
        forPay: sign * forPay,
        finishedPrice: sign * order.finishedPrice,
        priceWithDisc: sign * order.priceWithDisc,
        paymentSaleAmount: 0,
      });
    }
    if (rng.chance(0.005)) {
      plan(order, "D", buyout.date + rng.int(DAY_S, 10 * DAY_S), {
        forPay: round2(rng.between(15, 200)),
        finishedPrice: 0,
        priceWithDisc: 0,
        paymentSaleAmount: 0,
      });
    }
  }
  // saleIDs grow with time, like WB's, and do not depend on the anchor instant.
  sales.sort((a, b) => a.date - b.date);
  let saleNumber = rng.int(7_000_000_000, 7_999_999_999);
  for (const sale of sales) {
    saleNumber += rng.int(1, 60);
    sale.saleID = `${sale.kind}${saleNumber}`;
  }

  // The anchor cuts the plan.
  const visibleOrders: Array<{ changed: number; row: WbOrder }> = [];
  for (const order of orders) {
    if (order.date > cut) continue;
    const isCancel = order.canceled <= cut;
    const changed = isCancel ? order.canceled : order.touched <= cut ? order.touched : order.date;
    visibleOrders.push({ changed, row: toOrderRow(order, isCancel, changed, warehouses) });
  }
  visibleOrders.sort((a, b) => a.changed - b.changed);

  const visibleSales: Array<{ changed: number; row: WbSale }> = [];
  for (const sale of sales) {
    if (sale.date > cut) continue;
    const changed = sale.touched <= cut ? sale.touched : sale.date;
    visibleSales.push({ changed, row: toSaleRow(sale, changed, warehouses) });
  }
  visibleSales.sort((a, b) => a.changed - b.changed);

  const stocks = generateStocks(rng, planned, warehouses, orderCount, days, anchorDayStart);

  return {
    seed,
    anchor: new Date(cut * 1000).toISOString().replace(".000Z", "Z"),
    from: toWbDateTime(planStart * 1000),
    to: toWbDateTime(cut * 1000),
    products: planned.map((p) => p.card),
    warehouses,
    orders: visibleOrders.map((o) => o.row),
    sales: visibleSales.map((s) => s.row),
    stocks,
  };
}

function toOrderRow(order: PlannedOrder, isCancel: boolean, changed: number, warehouses: readonly WbDatasetWarehouse[]): WbOrder {
  const { card } = order.product;
  const warehouse = at(warehouses, order.warehouse);
  const size = at(card.sizes, order.size);
  return {
    date: toWbDateTime(order.date * 1000),
    lastChangeDate: toWbDateTime(changed * 1000),
    warehouseName: warehouse.name,
    warehouseType: warehouse.type,
    countryName: order.region.country,
    oblastOkrugName: order.region.okrug,
    regionName: order.region.region,
    supplierArticle: card.supplierArticle,
    nmId: card.nmId,
    barcode: size.barcode,
    category: card.category,
    subject: card.subject,
    brand: card.brand,
    techSize: size.techSize,
    incomeID: order.product.incomeIds.get(order.warehouse) ?? 0,
    isSupply: false,
    isRealization: true,
    totalPrice: order.totalPrice,
    discountPercent: order.discountPercent,
    spp: order.spp,
    finishedPrice: order.finishedPrice,
    priceWithDisc: order.priceWithDisc,
    isCancel,
    cancelDate: isCancel ? toWbDateTime(order.canceled * 1000) : "0001-01-01T00:00:00",
    sticker: order.sticker,
    gNumber: order.gNumber,
    srid: order.srid,
  };
}

function toSaleRow(sale: PlannedSale, changed: number, warehouses: readonly WbDatasetWarehouse[]): WbSale {
  const { order } = sale;
  const { card } = order.product;
  const warehouse = at(warehouses, order.warehouse);
  const size = at(card.sizes, order.size);
  return {
    date: toWbDateTime(sale.date * 1000),
    lastChangeDate: toWbDateTime(changed * 1000),
    warehouseName: warehouse.name,
    warehouseType: warehouse.type,
    countryName: order.region.country,
    oblastOkrugName: order.region.okrug,
    regionName: order.region.region,
    supplierArticle: card.supplierArticle,
    nmId: card.nmId,
    barcode: size.barcode,
    category: card.category,
    subject: card.subject,
    brand: card.brand,
    techSize: size.techSize,
    incomeID: order.product.incomeIds.get(order.warehouse) ?? 0,
    isSupply: false,
    isRealization: true,
    totalPrice: order.totalPrice,
    discountPercent: order.discountPercent,
    spp: order.spp,
    paymentSaleAmount: sale.paymentSaleAmount,
    forPay: sale.forPay,
    finishedPrice: sale.finishedPrice,
    priceWithDisc: sale.priceWithDisc,
    saleID: sale.saleID,
    sticker: order.sticker,
    gNumber: order.gNumber,
    srid: order.srid,
  };
}

/**
 * Stock rows: every size of every product at each WB warehouse that carries it. Quantities follow
 * popularity (about 0–60 days of cover), ~18 % of rows are sold out. `lastChangeDate` falls within
 * the 14 days before the anchor day, so no anchor instant on that day hides or changes a row.
 */
function generateStocks(
  rng: Random,
  products: readonly PlannedProduct[],
  warehouses: readonly WbDatasetWarehouse[],
  orderCount: number,
  days: number,
  anchorDayStart: number,
): WbStock[] {
  const taken = new SecondSet(anchorDayStart - 60 * DAY_S, 60 * DAY_S);
  const rows: Array<{ changed: number; row: WbStock }> = [];
  for (const product of products) {
    const { card } = product;
    const sizeTotal = product.sizeCumulative[product.sizeCumulative.length - 1] ?? 1;
    const dailyOrders = (card.popularity * orderCount) / days;
    card.sizes.forEach((size, j) => {
      const sizeShare = ((product.sizeCumulative[j] ?? 0) - (product.sizeCumulative[j - 1] ?? 0)) / sizeTotal;
      for (const w of product.wbWarehouses) {
        const perDay = (dailyOrders * sizeShare) / product.wbWarehouses.length;
        const soldOut = rng.chance(0.18);
        const quantity = soldOut ? 0 : Math.max(1, Math.round(perDay * rng.between(3, 60)));
        const inWayToClient = rng.int(0, Math.ceil(perDay * 2));
        const inWayFromClient = rng.chance(0.7) ? 0 : rng.int(1, 3);
        const changed =
          taken.claim(anchorDayStart - rng.int(1, 14 * DAY_S), anchorDayStart - 60 * DAY_S, anchorDayStart - 1) ?? anchorDayStart - 1;
        rows.push({
          changed,
          row: {
            lastChangeDate: toWbDateTime(changed * 1000),
            warehouseName: at(warehouses, w).name,
            supplierArticle: card.supplierArticle,
            nmId: card.nmId,
            barcode: size.barcode,
            quantity,
            inWayToClient,
            inWayFromClient,
            quantityFull: quantity + inWayToClient + inWayFromClient,
            category: card.category,
            subject: card.subject,
            brand: card.brand,
            techSize: size.techSize,
            Price: card.totalPrice,
            Discount: card.discountPercent,
            isSupply: true,
            isRealization: false,
            SCCode: rng.chance(0.85) ? "Tech" : "",
          },
        });
      }
    });
  }
  rows.sort((a, b) => a.changed - b.changed);
  return rows.map((r) => r.row);
}
